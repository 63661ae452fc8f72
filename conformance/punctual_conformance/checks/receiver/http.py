"""RCV-HTTP-*: other HTTP behaviour of the endpoint (informational)."""

from __future__ import annotations

from punctual_conformance.checks import check
from punctual_conformance.client import TargetClient
from punctual_conformance.outcomes import expect


@check("RCV-HTTP-01")
def test_get_is_not_acknowledged(punctual_client: TargetClient) -> None:
    exchange = punctual_client.request("GET", label="GET the endpoint")
    expect(exchange.status is not None and not exchange.acknowledged,
           "a GET is not answered 2xx (webhooks are POSTed)", exchange.observed())
