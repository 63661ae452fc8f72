"""RCV-IDEM-*: at-least-once delivery; the receiver dedupes on the event id."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable

from punctual_conformance.checks import check
from punctual_conformance.checks.receiver._support import (
    ACK,
    count_processed,
    deliver_valid,
    expect_acknowledged,
)
from punctual_conformance.client import TargetClient
from punctual_conformance.events import Event, new_event
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import expect, not_verified

SEQUENTIAL_COPIES = 3
CONCURRENT_COPIES = 10


def _fresh_booking() -> Event:
    """A booking.created about a booking of its own, so only RCV-IDEM-04 is about object ids."""
    return new_event("booking.created",
                     object_overrides={"id": f"booking_{secrets.token_hex(6)}"})


def _deliver_copies(client: TargetClient, event: Event, copies: int) -> list[Exchange]:
    return [deliver_valid(client, event, f"copy {n} of {event.id}") for n in range(1, copies + 1)]


def _require_first_acknowledged(exchanges: list[Exchange]) -> None:
    __tracebackhide__ = True
    if not exchanges[0].acknowledged:
        not_verified(f"the first delivery was not acknowledged ({exchanges[0].observed()}), "
                     "so processing cannot be judged")


@check("RCV-IDEM-01")
def test_redelivery_is_acknowledged_again(punctual_client: TargetClient) -> None:
    exchanges = _deliver_copies(punctual_client, _fresh_booking(), SEQUENTIAL_COPIES)
    _require_first_acknowledged(exchanges)
    for number, exchange in enumerate(exchanges[1:], start=2):
        expect_acknowledged(exchange, f"redelivery {number} of an acknowledged event "
                            "(same bytes, same signature)")


@check("RCV-IDEM-02")
def test_sequential_duplicates_processed_once(
    punctual_client: TargetClient, punctual_processed_count: Callable[[str], int] | None
) -> None:
    event = _fresh_booking()
    exchanges = _deliver_copies(punctual_client, event, SEQUENTIAL_COPIES)
    _require_first_acknowledged(exchanges)
    processed = count_processed(punctual_processed_count, event.id)
    expect(processed == 1,
           f"processed exactly once after {SEQUENTIAL_COPIES} sequential deliveries",
           f"processed {processed} times")


@check("RCV-IDEM-03")
def test_concurrent_duplicates_processed_once(
    punctual_client: TargetClient, punctual_processed_count: Callable[[str], int] | None
) -> None:
    event = _fresh_booking()
    start = threading.Barrier(CONCURRENT_COPIES)
    exchanges: list[Exchange] = []

    def deliver(number: int) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=10)
        exchanges.append(deliver_valid(punctual_client, event, f"concurrent copy {number}"))

    threads = [threading.Thread(target=deliver, args=(n,), daemon=True)
               for n in range(1, CONCURRENT_COPIES + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=punctual_client.timeout * 2 + 10)
    refused = [e for e in exchanges if not e.acknowledged]
    expect(len(exchanges) == CONCURRENT_COPIES and not refused,
           f"{ACK} of all {CONCURRENT_COPIES} concurrent copies",
           f"{len(refused) + CONCURRENT_COPIES - len(exchanges)} not acknowledged"
           + (f"; first: {refused[0].observed()}" if refused else ""))
    processed = count_processed(punctual_processed_count, event.id)
    expect(processed == 1, f"processed exactly once after {CONCURRENT_COPIES} concurrent "
           "deliveries", f"processed {processed} times")


@check("RCV-IDEM-04")
def test_dedupe_key_is_event_id_not_object_id(
    punctual_client: TargetClient, punctual_processed_count: Callable[[str], int] | None
) -> None:
    created = new_event("booking.created")
    updated = new_event("booking.updated")  # the same booking_123, a different event id
    exchanges = [deliver_valid(punctual_client, created, f"booking.created {created.id}"),
                 deliver_valid(punctual_client, updated, f"booking.updated {updated.id}")]
    for exchange in exchanges:
        _require_first_acknowledged([exchange])
    counts = {event.id: count_processed(punctual_processed_count, event.id)
              for event in (created, updated)}
    expect(all(n == 1 for n in counts.values()),
           "each of two distinct events about booking_123 processed exactly once",
           ", ".join(f"{event_id}: processed {n}x" for event_id, n in counts.items()))
