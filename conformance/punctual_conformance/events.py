"""The event factory: fresh, schema-valid Punctual events and the exact bytes that carry them.

An event is serialized exactly once (:func:`serialize`, or bytes given by the caller); those
bytes are what is sent and what is signed. Nothing downstream re-serializes, because a
receiver must verify the signature over the raw body, not over a re-encoding of it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from punctual_conformance.schemas import schema_for, validate_event

__all__ = [
    "LARGE_EVENT_MIN_BYTES",
    "Event",
    "example_event",
    "large_availability_event",
    "new_event",
    "new_event_id",
    "raw_bytes_variants",
    "serialize",
    "utc_now_rfc3339",
]

#: RCV-ACK-07: a large event is at least 128 KiB on the wire.
LARGE_EVENT_MIN_BYTES = 128 * 1024

#: A non-ASCII text with a solidus, an astral character (a surrogate pair once ``\\u``-escaped)
#: and a quote, so the RCV-SIG-05 byte variants really differ.
_UNUSUAL_TEXT = 'Café déjà vu — Zürich 東京 📅 / Q&A "demo"'

#: Where :func:`raw_bytes_variants` puts that text: the type's human-readable field if it has
#: one, otherwise a free-form id string (ids have no pattern in the schemas).
_TEXT_FIELD = {
    "booking.created": "title",
    "booking.updated": "title",
    "booking.cancelled": "title",
    "availability.updated": "user_id",
    "user.created": "name",
    "team.member_added": "team_id",
}


def example_event(event_type: str) -> dict[str, Any]:
    """A deep copy of the seed's example payload of ``event_type`` (the schema's ``examples``)."""
    example = schema_for(event_type)["examples"][0]
    assert isinstance(example, dict)
    return copy.deepcopy(example)


def new_event_id() -> str:
    """A fresh, unguessable event id: ``evt_`` + 32 hex digits."""
    return "evt_" + secrets.token_hex(16)


def utc_now_rfc3339() -> str:
    """The current UTC time as RFC 3339 with a ``Z`` suffix, to the second as in the seed."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def serialize(envelope: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON (raw non-ASCII, key order kept): deterministic for equal input."""
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


@dataclass(frozen=True)
class Event:
    """An envelope and the exact bytes that carry it (what is sent and signed)."""

    envelope: Mapping[str, Any]
    body: bytes

    @property
    def id(self) -> str:
        return str(self.envelope["id"])

    @property
    def type(self) -> str:
        return str(self.envelope["type"])

    @classmethod
    def from_envelope(cls, envelope: Mapping[str, Any], body: bytes | None = None) -> Event:
        """Wrap ``envelope``; a ``body`` given is sent and signed as is (never re-serialized)."""
        own = copy.deepcopy(dict(envelope))
        return cls(envelope=own, body=serialize(own) if body is None else bytes(body))


def new_event(
    event_type: str,
    *,
    object_overrides: Mapping[str, Any] | None = None,
    **envelope_overrides: Any,
) -> Event:
    """The seed example of ``event_type`` with a fresh ``id`` and ``created``, overrides applied.

    ``object_overrides`` update ``data.object``; keyword overrides replace top-level envelope
    fields (e.g. ``type="booking.rescheduled"`` for an unknown type). Overrides are not
    validated, so deliberately invalid events can be built too.
    """
    envelope = example_event(event_type)
    envelope["id"] = new_event_id()
    envelope["created"] = utc_now_rfc3339()
    if object_overrides:
        envelope["data"]["object"].update(copy.deepcopy(dict(object_overrides)))
    envelope.update(copy.deepcopy(envelope_overrides))
    return Event.from_envelope(envelope)


def large_availability_event(slots: int = 1440) -> Event:
    """An ``availability.updated`` event with ``slots`` one-minute slots from 00:00, pretty-printed.

    With the default 1,440 slots (a whole day; the last one ends at ``24:00``) the body is
    above :data:`LARGE_EVENT_MIN_BYTES` (RCV-ACK-07). The event is schema-valid.
    """
    if not 1 <= slots <= 1440:
        raise ValueError("slots must be between 1 and 1440 (one-minute slots of one day)")

    def hhmm(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    day_slots = [
        {"start": hhmm(m), "end": hhmm(m + 1), "available": m % 3 != 1} for m in range(slots)
    ]
    envelope = example_event("availability.updated")
    envelope["id"] = new_event_id()
    envelope["created"] = utc_now_rfc3339()
    envelope["data"]["object"]["slots"] = day_slots
    envelope["data"]["object"]["updated_at"] = envelope["created"]
    validate_event(envelope)
    body = json.dumps(envelope, ensure_ascii=False, indent=4).encode("utf-8") + b"\n"
    return Event.from_envelope(envelope, body)


def _reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(item) for item in value]
    return value


def _whitespace(envelope: Mapping[str, Any]) -> bytes:
    """Tabs, CRLF line ends, spaces around ``:`` and ``,``, and blank lines around the value.

    Raw newlines only occur between tokens: ``json.dumps`` escapes them inside strings.
    """
    text = json.dumps(envelope, ensure_ascii=False, indent="\t", separators=(" ,", " : "))
    return ("\r\n \n" + text.replace("\n", "\r\n  ") + "\n\n\t ").encode("utf-8")


def _escaped_solidus(envelope: Mapping[str, Any]) -> bytes:
    """Every ``/`` written as ``\\/``; outside strings JSON has no ``/``, so this is safe."""
    return serialize(envelope).replace(b"/", b"\\/")


_VARIANTS: tuple[tuple[str, Callable[[Mapping[str, Any]], bytes]], ...] = (
    ("raw-utf8", serialize),
    ("whitespace-and-newlines", _whitespace),
    ("reversed-key-order", lambda env: serialize(_reversed_keys(env))),
    (
        "unicode-escapes",
        lambda env: json.dumps(env, ensure_ascii=True, separators=(",", ":")).encode("ascii"),
    ),
    ("escaped-solidus", _escaped_solidus),
)


def raw_bytes_variants(event_type: str) -> list[tuple[str, bytes]]:
    """RCV-SIG-05: named byte strings that all parse to one fresh valid event, each different.

    The event carries non-ASCII text with a ``/`` so that the ``\\u``-escape, raw UTF-8 and
    ``\\/`` variants really differ. Each variant is meant to be signed over exactly its bytes.
    """
    event = new_event(event_type, object_overrides={_TEXT_FIELD[event_type]: _UNUSUAL_TEXT})
    validate_event(event.envelope)
    variants = [(name, make(event.envelope)) for name, make in _VARIANTS]
    assert len({body for _, body in variants}) == len(variants), "byte variants must differ"
    return variants
