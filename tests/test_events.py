"""The event factory: fresh valid events, exact bytes, large events and RCV-SIG-05 variants."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re

import pytest

from punctual_conformance.events import (
    LARGE_EVENT_MIN_BYTES,
    Event,
    example_event,
    large_availability_event,
    new_event,
    new_event_id,
    raw_bytes_variants,
    serialize,
    utc_now_rfc3339,
)
from punctual_conformance.schemas import EVENT_TYPES, UnknownEventType, event_errors, schema_for


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_example_event_is_a_deep_copy_of_the_seed_example(event_type: str) -> None:
    first = example_event(event_type)
    assert first == schema_for(event_type)["examples"][0]
    first["data"]["object"]["mutated"] = True
    assert "mutated" not in example_event(event_type)["data"]["object"]
    assert "mutated" not in schema_for(event_type)["examples"][0]["data"]["object"]


def test_unknown_type_has_no_example() -> None:
    with pytest.raises(UnknownEventType):
        example_event("booking.rescheduled")


def test_new_event_id_and_time() -> None:
    ids = {new_event_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"evt_[0-9a-f]{32}", i) for i in ids)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", utc_now_rfc3339())


def test_serialize_is_compact_utf8_and_deterministic() -> None:
    envelope = {"id": "evt_1", "title": "Zürich / 東京", "n": [1, 2.5, None, True]}
    body = serialize(envelope)
    assert body == serialize(dict(envelope)) == serialize(json.loads(body))
    assert body == '{"id":"evt_1","title":"Zürich / 東京","n":[1,2.5,null,true]}'.encode()
    with pytest.raises(ValueError):
        serialize({"x": float("nan")})


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_new_event_is_valid_fresh_and_serialized_once(event_type: str) -> None:
    event = new_event(event_type)
    assert event_errors(event.envelope) == []
    assert event.type == event_type
    assert event.id.startswith("evt_")
    assert event.id != example_event(event_type)["id"]
    assert event.body == serialize(event.envelope)
    assert json.loads(event.body) == event.envelope
    assert event.id != new_event(event_type).id


def test_new_event_overrides() -> None:
    event = new_event(
        "booking.created",
        object_overrides={"title": "Démo", "extra": {"a": 1}},
        type="booking.rescheduled",
        livemode=False,
    )
    assert event.type == "booking.rescheduled"
    assert event.envelope["livemode"] is False
    assert event.envelope["data"]["object"]["title"] == "Démo"
    assert event.envelope["data"]["object"]["extra"] == {"a": 1}
    assert event_errors(event.envelope) == []  # unknown type: envelope only


def test_event_is_frozen_and_keeps_given_bytes() -> None:
    envelope = example_event("user.created")
    body = b'{ "id" : "evt_1234567894" }'
    event = Event.from_envelope(envelope, body)
    assert event.body == body
    envelope["id"] = "evt_changed"
    assert event.id == "evt_1234567894"  # the event holds its own copy
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.body = b""  # type: ignore[misc]
    assert Event.from_envelope(envelope).body == serialize(envelope)


def test_large_availability_event() -> None:
    event = large_availability_event()
    assert len(event.body) >= LARGE_EVENT_MIN_BYTES == 131072
    assert event.type == "availability.updated"
    assert event_errors(event.envelope) == []
    parsed = json.loads(event.body)
    assert parsed == event.envelope
    slots = parsed["data"]["object"]["slots"]
    assert len(slots) == 1440
    assert slots[0]["start"] == "00:00"
    assert slots[-1]["end"] == "24:00"
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(slots))
    assert b"\n    " in event.body  # pretty-printed


def test_large_availability_event_bounds() -> None:
    assert len(json.loads(large_availability_event(3).body)["data"]["object"]["slots"]) == 3
    for bad in (0, 1441):
        with pytest.raises(ValueError):
            large_availability_event(bad)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_raw_bytes_variants(event_type: str) -> None:
    variants = raw_bytes_variants(event_type)
    names = [name for name, _ in variants]
    assert names == [
        "raw-utf8",
        "whitespace-and-newlines",
        "reversed-key-order",
        "unicode-escapes",
        "escaped-solidus",
    ]
    bodies = dict(variants)
    parsed = [json.loads(body) for body in bodies.values()]
    assert all(p == parsed[0] for p in parsed)
    assert len(set(bodies.values())) == len(bodies)
    assert event_errors(parsed[0]) == []
    assert parsed[0]["type"] == event_type
    # Each variant really has the property it is named after.
    assert re.search(rb"[\x80-\xff]", bodies["raw-utf8"])
    assert bodies["unicode-escapes"].isascii()
    assert b"\\u" in bodies["unicode-escapes"]
    assert b"\\/" in bodies["escaped-solidus"]
    assert b"\r\n" in bodies["whitespace-and-newlines"]
    assert bodies["reversed-key-order"].startswith(b'{"data"')
    assert bodies["raw-utf8"] == serialize(parsed[0])


def test_raw_bytes_variants_are_fresh_events() -> None:
    first = json.loads(raw_bytes_variants("booking.created")[0][1])
    second = json.loads(raw_bytes_variants("booking.created")[0][1])
    assert first["id"] != second["id"]
