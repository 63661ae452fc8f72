"""RCV-ACK-*: correctly signed, valid deliveries are acknowledged with a 2xx, in time."""

from __future__ import annotations

from typing import Any

from punctual_conformance.checks import check
from punctual_conformance.checks.receiver._support import ACK, deliver_valid, expect_acknowledged
from punctual_conformance.client import TargetClient
from punctual_conformance.events import (
    Event,
    large_availability_event,
    new_event,
    new_event_id,
    serialize,
)
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import expect, fail, not_verified
from punctual_conformance.schemas import EVENT_TYPES
from punctual_conformance.settings import Settings


@check("RCV-ACK-01", cases={t: t for t in EVENT_TYPES})
def test_each_event_type_is_acknowledged(case: str, punctual_client: TargetClient) -> None:
    event = new_event(case)
    expect_acknowledged(deliver_valid(punctual_client, event, f"valid {case}"),
                        f"a valid {case} event")


@check("RCV-ACK-02")
def test_acknowledgement_within_deadline(
    punctual_client: TargetClient, punctual_settings: Settings, punctual_facts: dict[str, Any],
    punctual_valid_deliveries: list[Exchange],
) -> None:
    for event_type in EVENT_TYPES:
        deliver_valid(punctual_client, new_event(event_type), f"timed {event_type}")
    deadline_ms = punctual_settings.ack_timeout * 1000
    # Acknowledgements and deliveries left unanswered are judged here; a non-2xx answer is
    # not an acknowledgement at all, and the rows of that delivery say so.
    judged = [e for e in punctual_valid_deliveries + punctual_client.recorder
              if e.acknowledged or e.status is None]
    if not any(e.acknowledged for e in judged) and not any(e.status is None for e in judged):
        not_verified("no valid delivery was acknowledged, so there is no acknowledgement "
                     "to time")
    answered = sorted(e.latency_ms for e in judged if e.status is not None and e.latency_ms)
    if answered:
        punctual_facts.update(
            deliveries=len(judged),
            p50_ms=round(answered[len(answered) // 2], 1),
            p95_ms=round(answered[min(len(answered) - 1, int(len(answered) * 0.95))], 1),
            max_ms=round(answered[-1], 1),
        )
    late = [e for e in judged if e.status is None or (e.latency_ms or 0) > deadline_ms]
    expect(
        not late,
        f"every valid delivery answered within {punctual_settings.ack_timeout:g} s",
        f"{len(late)} of {len(judged)} late or unanswered; first: {late[0].label}: "
        f"{late[0].observed()}" if late else "",
    )


@check("RCV-ACK-03")
def test_valid_delivery_not_redirected(
    punctual_client: TargetClient, punctual_valid_deliveries: list[Exchange]
) -> None:
    deliver_valid(punctual_client, new_event("booking.created"), "valid booking.created")
    judged = punctual_valid_deliveries + punctual_client.recorder
    redirected = [e for e in judged if e.status is not None and 300 <= e.status < 400]
    expect(
        not redirected,
        "no valid delivery answered with a 3xx redirect (senders do not follow them)",
        f"{len(redirected)} of {len(judged)} redirected; first: {redirected[0].label}: "
        f"{redirected[0].status} Location: {redirected[0].response_headers.get('location')}"
        if redirected else "",
    )


@check("RCV-ACK-04")
def test_unknown_event_type_is_acknowledged(punctual_client: TargetClient) -> None:
    event = new_event("booking.created", type="booking.rescheduled")
    expect_acknowledged(deliver_valid(punctual_client, event, "unknown type booking.rescheduled"),
                        "an event of the unknown type booking.rescheduled")


@check("RCV-ACK-05")
def test_unknown_extra_fields_are_tolerated(punctual_client: TargetClient) -> None:
    event = new_event(
        "booking.created",
        object_overrides={"meeting_url": "https://example.com/m/1", "tags": ["vip"]},
        api_version="v1",
        livemode=False,
    )
    expect_acknowledged(deliver_valid(punctual_client, event, "extra fields"),
                        "an event with extra envelope and data.object fields")


def _with_non_ascii(event_type: str, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` generated events, at least one of them with non-ASCII text (the profile
    asks for it, and hypothesis's first, simplest draws are often plain ASCII)."""
    # Imported here: schemathesis and hypothesis cost a start-up only this row needs.
    from punctual_conformance.generation import generated_events

    envelopes = generated_events(event_type, count, seed)
    if any(not serialize(e).isascii() for e in envelopes):
        return envelopes
    more = generated_events(event_type, 4 * count + 10, seed)  # the same seed: reproducible
    unicode = next((e for e in more if not serialize(e).isascii()), None)
    return envelopes if unicode is None else [*envelopes[:-1], unicode]


@check("RCV-ACK-06", cases={t: t for t in EVENT_TYPES})
def test_generated_events_are_acknowledged(
    case: str, punctual_client: TargetClient, punctual_settings: Settings,
    punctual_facts: dict[str, Any],
) -> None:
    envelopes = _with_non_ascii(case, punctual_settings.examples, punctual_settings.seed)
    punctual_facts.update(generated=len(envelopes), seed=punctual_settings.seed)
    refused = []
    for number, generated in enumerate(envelopes, start=1):
        # Generated ids may repeat across draws; each delivery is a distinct event.
        envelope = {**generated, "id": new_event_id()}
        event = Event.from_envelope(envelope, serialize(envelope))
        exchange = deliver_valid(punctual_client, event, f"generated {case} #{number}")
        if not exchange.acknowledged:
            refused.append(exchange)
    if refused:
        fail(f"{ACK} of every generated {case} event (seed {punctual_settings.seed})",
             f"{len(refused)} of {len(envelopes)} not acknowledged; first: "
             f"{refused[0].observed()}",
             f"Body sent: {refused[0].request_body[:300]}")


@check("RCV-ACK-07")
def test_large_event_is_acknowledged(punctual_client: TargetClient) -> None:
    event = large_availability_event()
    exchange = deliver_valid(punctual_client, event,
                             f"large availability.updated ({len(event.body)} bytes)")
    expect_acknowledged(exchange, f"a valid {len(event.body)}-byte event")
