"""RCV-SIG-*: the signature is verified over the raw body, and bad signatures are refused
cleanly (4xx, ideally 400) and without effect."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from punctual_conformance.checks import check
from punctual_conformance.checks.receiver._support import (
    count_processed,
    deliver_valid,
    expect_acknowledged,
)
from punctual_conformance.client import TargetClient
from punctual_conformance.events import Event, new_event, raw_bytes_variants
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import expect
from punctual_conformance.secret import Secret
from punctual_conformance.signing import sign

_OTHER_SECRET = "whsec_not_the_configured_secret"  # noqa: S105 (a deliberately wrong key)


@dataclass(frozen=True)
class BadDelivery:
    """A delivery that must be refused: which body is sent, and which header value."""

    requirement_id: str
    label: str
    header: Callable[[str, bytes], str | None]  # (valid signature of the body, body) -> header
    alter_body: bool = False


BAD_DELIVERIES: dict[str, BadDelivery] = {
    "missing": BadDelivery("RCV-SIG-01", "without a Punctual-Signature header",
                           lambda sig, body: None),
    "other-secret": BadDelivery("RCV-SIG-02", "signed with another secret",
                                lambda sig, body: sign(_OTHER_SECRET, body)),
    # A receiver whose secret silently became "" (unset variable) accepts these: forgeable.
    "empty-secret": BadDelivery("RCV-SIG-02", "signed with the empty secret",
                                lambda sig, body: sign("", body)),
    "altered-body": BadDelivery("RCV-SIG-03", "whose body was altered after signing",
                                lambda sig, body: sig, alter_body=True),
    "empty": BadDelivery("RCV-SIG-04", "with an empty signature", lambda sig, body: ""),
    "non-hex": BadDelivery("RCV-SIG-04", "with a non-hex signature",
                           lambda sig, body: "zz" + sig[2:]),
    "one-short": BadDelivery("RCV-SIG-04", "with a signature one character short",
                             lambda sig, body: sig[:-1]),
    "one-long": BadDelivery("RCV-SIG-04", "with a signature one character long",
                            lambda sig, body: sig + "0"),
    "sha256-prefix": BadDelivery("RCV-SIG-04", "with the valid digest behind a sha256= prefix",
                                 lambda sig, body: "sha256=" + sig),
    "trailing-junk": BadDelivery("RCV-SIG-04", "with the valid digest and trailing junk",
                                 lambda sig, body: sig + ";v=1"),
}
def _cases_of(requirement_id: str) -> dict[str, str]:
    return {name: name for name, bad in BAD_DELIVERIES.items()
            if bad.requirement_id == requirement_id}
REFUSAL = "a refusal (not 2xx)"


@dataclass(frozen=True)
class BadDeliveryRun:
    event: Event
    exchange: Exchange


@pytest.fixture(scope="session")
def bad_deliveries(
    _punctual_session_client: TargetClient, punctual_secret: Secret
) -> dict[str, BadDeliveryRun]:
    """Every bad-signature delivery, made once per run, each with its own fresh event."""
    client = _punctual_session_client
    saved, client.recorder = client.recorder, []
    runs = {}
    try:
        for name, bad in BAD_DELIVERIES.items():
            event = new_event("booking.created")
            body = event.body
            header = bad.header(sign(punctual_secret.reveal(), body), body)
            if bad.alter_body:
                body = body.replace(b"Product Demo", b"Product Demo (altered)")
            exchange = client.deliver(body, label=bad.label, signature=header,
                                      event_id=event.id)
            runs[name] = BadDeliveryRun(event, exchange)
    finally:
        client.recorder = saved
    return runs


def _expect_refused(run: BadDeliveryRun, client: TargetClient) -> None:
    __tracebackhide__ = True
    client.recorder.append(run.exchange)
    expect(run.exchange.status is not None and not run.exchange.answered_2xx,
           f"{REFUSAL} of a delivery {run.exchange.label}", run.exchange.observed())


@check("RCV-SIG-01")
def test_missing_signature_is_rejected(bad_deliveries: dict[str, BadDeliveryRun],
                                       punctual_client: TargetClient) -> None:
    _expect_refused(bad_deliveries["missing"], punctual_client)


@check("RCV-SIG-02", cases=_cases_of("RCV-SIG-02"))
def test_wrong_secret_is_rejected(case: str, bad_deliveries: dict[str, BadDeliveryRun],
                                  punctual_client: TargetClient) -> None:
    _expect_refused(bad_deliveries[case], punctual_client)


@check("RCV-SIG-03")
def test_altered_body_is_rejected(bad_deliveries: dict[str, BadDeliveryRun],
                                  punctual_client: TargetClient) -> None:
    _expect_refused(bad_deliveries["altered-body"], punctual_client)


@check("RCV-SIG-04", cases=_cases_of("RCV-SIG-04"))
def test_malformed_signature_is_rejected(case: str, bad_deliveries: dict[str, BadDeliveryRun],
                                         punctual_client: TargetClient) -> None:
    _expect_refused(bad_deliveries[case], punctual_client)


_VARIANT_NAMES = [name for name, _ in raw_bytes_variants("booking.created")]


@check("RCV-SIG-05", cases={name: name for name in _VARIANT_NAMES})
def test_signature_checked_over_raw_bytes(case: str, punctual_client: TargetClient) -> None:
    body = dict(raw_bytes_variants("booking.created"))[case]
    event = Event.from_envelope(json.loads(body), body)
    exchange = deliver_valid(punctual_client, event, f"raw bytes: {case}")
    expect_acknowledged(exchange, f"valid JSON with {case}, signed over exactly those bytes")


def _all_bad(bad_deliveries: dict[str, BadDeliveryRun], client: TargetClient) -> list[Exchange]:
    exchanges = [run.exchange for run in bad_deliveries.values()]
    client.recorder.extend(exchanges)
    return exchanges


@check("RCV-SIG-06")
def test_bad_signature_answered_4xx(bad_deliveries: dict[str, BadDeliveryRun],
                                    punctual_client: TargetClient) -> None:
    exchanges = _all_bad(bad_deliveries, punctual_client)
    wrong = [e for e in exchanges if e.status is None or not 400 <= e.status < 500]
    expect(not wrong, "every missing or invalid signature answered 4xx (never 5xx)",
           "; ".join(f"{e.label}: {e.observed()}" for e in wrong))


@check("RCV-SIG-07")
def test_bad_signature_answered_400(bad_deliveries: dict[str, BadDeliveryRun],
                                    punctual_client: TargetClient) -> None:
    exchanges = _all_bad(bad_deliveries, punctual_client)
    wrong = [e for e in exchanges if e.status != 400]
    expect(not wrong, "every missing or invalid signature answered 400",
           "; ".join(f"{e.label}: {e.observed()}" for e in wrong))


@check("RCV-SIG-08")
def test_bad_signature_has_no_effect(
    bad_deliveries: dict[str, BadDeliveryRun], punctual_client: TargetClient,
    punctual_processed_count: Callable[[str], int] | None,
) -> None:
    _all_bad(bad_deliveries, punctual_client)
    counts = {name: count_processed(punctual_processed_count, run.event.id)
              for name, run in bad_deliveries.items()}
    processed = {name: n for name, n in counts.items() if n}
    expect(not processed, "no side effect from any delivery with a missing or invalid signature",
           ", ".join(f"{BAD_DELIVERIES[n].label}: processed {c}x" for n, c in processed.items()))
