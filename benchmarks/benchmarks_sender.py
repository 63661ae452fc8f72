"""(c) The reference sender's deliveries per second to a local receiver, against a plain
httpx loop sending the same signed events (the floor)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from punctual_conformance.events import new_event
from punctual_conformance.reference_receiver import ReferenceReceiver
from punctual_conformance.reference_sender import ReferenceSender
from punctual_conformance.sender_history import SenderHistory
from punctual_conformance.signing import SIGNATURE_HEADER, sign

DELIVERIES = 200


def bench_sender_rows(secret: str) -> list[tuple[str, str, str]]:
    events = [new_event("booking.created").envelope for _ in range(DELIVERIES)]
    with ReferenceReceiver(secret) as receiver, tempfile.TemporaryDirectory() as tmp:
        history = SenderHistory(Path(tmp) / "history.sqlite3")
        sender = ReferenceSender(secret, history, allow_loopback=True,
                                 ca_bundle=receiver.ca_bundle)
        started = time.perf_counter()
        for envelope in events:
            sender.deliver(sender.enqueue(receiver.url, envelope))
        sender_s = time.perf_counter() - started
        bodies = [new_event("booking.created").body for _ in range(DELIVERIES)]
        with httpx.Client(verify=str(receiver.ca_bundle)) as client:
            started = time.perf_counter()
            for body in bodies:
                client.post(receiver.url, content=body, headers={
                    "Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)})
            floor_s = time.perf_counter() - started
    return [
        (f"(c) reference sender, {DELIVERIES} deliveries (history in SQLite)",
         f"{DELIVERIES / sender_s:.0f} /s", f"{sender_s / floor_s:.1f}x the floor's time"),
        (f"(c) floor: plain httpx loop, {DELIVERIES} signed POSTs",
         f"{DELIVERIES / floor_s:.0f} /s", "keep-alive connection"),
    ]
