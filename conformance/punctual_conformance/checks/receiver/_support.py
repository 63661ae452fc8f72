"""Helpers shared by the receiver checks (not collected: the name starts with '_')."""

from __future__ import annotations

from collections.abc import Callable

from punctual_conformance.client import TargetClient
from punctual_conformance.events import Event
from punctual_conformance.evidence import Exchange
from punctual_conformance.observer import ObserverError
from punctual_conformance.outcomes import expect, not_verified

ACK = "a 2xx acknowledgement"
NO_OBSERVER = (
    "needs an observer: pass --punctual-observer URL, or override the "
    "punctual_processed_count fixture in your conftest.py"
)


def deliver_valid(client: TargetClient, event: Event, label: str) -> Exchange:
    """Deliver a correctly signed, schema-valid event (judged again by RCV-ACK-02/03)."""
    return client.deliver(event.body, label=label, event_id=event.id, valid=True)


def expect_acknowledged(exchange: Exchange, what: str) -> None:
    __tracebackhide__ = True
    expect(exchange.acknowledged, f"{ACK} of {what}", exchange.observed(),
           f"Response body: {exchange.response_body[:200]!r}" if exchange.status else "")


def count_processed(processed_count: Callable[[str], int] | None, event_id: str) -> int:
    """The observer's count for ``event_id``; no observer or a broken one: not verified."""
    __tracebackhide__ = True
    if processed_count is None:
        not_verified(NO_OBSERVER)
    try:
        return processed_count(event_id)
    except ObserverError as error:
        not_verified(str(error))
