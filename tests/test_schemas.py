"""The event schemas: seed examples pass, mutations fail at the right pointer, no network."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import referencing.exceptions
from jsonschema import Draft202012Validator

from paths import SHARED
from punctual_conformance.resources import schemas_dir
from punctual_conformance.schemas import (
    EVENT_TYPES,
    SCHEMA_BASE_URI,
    InvalidEvent,
    SchemaViolation,
    UnknownEventType,
    event_errors,
    format_checker,
    registry,
    schema_for,
    validate_event,
    validator_for,
)

#: The seed page, where this checkout has it (the suite itself never needs it).
SEED = SHARED / "seed" / "000_0b6a141571d63357.txt"

#: A field of each type that must hold an email address, where it has one.
EMAIL_FIELD = {
    "booking.created": "attendee_email",
    "booking.updated": "attendee_email",
    "booking.cancelled": "attendee_email",
    "user.created": "email",
}


def example(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(schema_for(event_type)["examples"][0])


def paths(violations: list[SchemaViolation]) -> set[str]:
    return {v.path for v in violations}


def test_event_types_in_seed_order() -> None:
    assert EVENT_TYPES == (
        "booking.created",
        "booking.updated",
        "booking.cancelled",
        "availability.updated",
        "user.created",
        "team.member_added",
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_files_are_valid_draft_2020_12(event_type: str) -> None:
    schema = schema_for(event_type)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"{SCHEMA_BASE_URI}{event_type}.schema.json"
    assert schema["properties"]["type"]["const"] == event_type
    assert (schemas_dir() / f"{event_type}.schema.json").is_file()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_seed_example_is_verbatim_and_valid(event_type: str) -> None:
    ex = example(event_type)
    assert event_errors(ex) == []
    validate_event(ex, expected_type=event_type)
    # The example is the seed page's payload, verbatim (same JSON text, re-indented).
    if SEED.is_file():
        assert json.dumps(ex, indent=2) in SEED.read_text(encoding="utf-8")


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("created", ["2024-13-45T99:00:00Z", "yesterday", "2024-01-15 10:30"])
def test_bad_created_fails_format_really_asserts(event_type: str, created: str) -> None:
    ex = example(event_type)
    ex["created"] = created
    assert "/created" in paths(event_errors(ex))


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_wrong_type_const_fails(event_type: str) -> None:
    ex = example(event_type)
    other = next(t for t in EVENT_TYPES if t != event_type)
    ex["type"] = other
    found = event_errors(ex, expected_type=event_type)
    assert "/type" in paths(found)
    errors = list(validator_for(event_type).iter_errors(ex))
    assert [list(e.absolute_path) for e in errors if e.validator == "const"] == [["type"]]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_missing_required_object_field_fails(event_type: str) -> None:
    for field in example(event_type)["data"]["object"]:
        ex = example(event_type)
        del ex["data"]["object"][field]
        assert f"/data/object/{field}" in paths(event_errors(ex)), field


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@pytest.mark.parametrize("field", ["id", "type", "created", "data"])
def test_missing_envelope_field_fails(event_type: str, field: str) -> None:
    ex = example(event_type)
    del ex[field]
    assert f"/{field}" in paths(event_errors(ex, expected_type=event_type))


@pytest.mark.parametrize("event_type", sorted(EMAIL_FIELD))
@pytest.mark.parametrize("email", ["not-an-email", "", 42])
def test_bad_email_fails(event_type: str, email: object) -> None:
    ex = example(event_type)
    ex["data"]["object"][EMAIL_FIELD[event_type]] = email
    assert f"/data/object/{EMAIL_FIELD[event_type]}" in paths(event_errors(ex))


@pytest.mark.parametrize("date", ["2024-02-30", "20-01-2024", "2024-01-20T00:00:00Z"])
def test_bad_availability_date_fails(date: str) -> None:
    ex = example("availability.updated")
    ex["data"]["object"]["date"] = date
    assert paths(event_errors(ex)) == {"/data/object/date"}


@pytest.mark.parametrize("value", ["9:00", "24:01", "12:60", "noon"])
def test_bad_slot_time_fails(value: str) -> None:
    ex = example("availability.updated")
    ex["data"]["object"]["slots"][1]["start"] = value
    assert paths(event_errors(ex)) == {"/data/object/slots/1/start"}


def test_slot_may_end_at_midnight() -> None:
    ex = example("availability.updated")
    ex["data"]["object"]["slots"] = [{"start": "23:00", "end": "24:00", "available": True}]
    assert event_errors(ex) == []


@pytest.mark.parametrize("event_type", ["booking.created", "booking.updated"])
@pytest.mark.parametrize(
    ("status", "ok"), [("confirmed", True), ("cancelled", True), ("pending", False)]
)
def test_booking_status_enum(event_type: str, status: str, ok: bool) -> None:
    ex = example(event_type)
    ex["data"]["object"]["status"] = status
    assert (event_errors(ex) == []) is ok


def test_cancelled_booking_must_say_cancelled() -> None:
    ex = example("booking.cancelled")
    ex["data"]["object"]["status"] = "confirmed"
    assert paths(event_errors(ex)) == {"/data/object/status"}


@pytest.mark.parametrize("bad_id", ["1234567890", "evt_", "evt-123", "evt_12 3", 12])
def test_envelope_id_pattern(bad_id: object) -> None:
    ex = example("booking.created")
    ex["id"] = bad_id
    assert paths(event_errors(ex)) == {"/id"}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_additional_properties_are_allowed(event_type: str) -> None:
    ex = example(event_type)
    ex["livemode"] = False
    ex["data"]["previous_attributes"] = {}
    ex["data"]["object"]["timezone"] = "Europe/Zürich"
    assert event_errors(ex) == []


def test_unknown_type_is_only_envelope_checked() -> None:
    ex: dict[str, Any] = {
        "id": "evt_1",
        "type": "booking.rescheduled",
        "created": "2024-01-15T10:30:00Z",
        "data": {"object": {"anything": 1}},
    }
    assert event_errors(ex) == []
    ex["created"] = "yesterday"
    assert paths(event_errors(ex)) == {"/created"}


@pytest.mark.parametrize("bad", [None, [], "{}", {"type": "Booking Created"}])
def test_non_envelopes_fail(bad: object) -> None:
    assert event_errors(bad)


def test_pointer_escapes_and_root_path() -> None:
    assert paths(event_errors([])) == {""}
    ex = example("availability.updated")
    ex["data"]["object"]["slots"] = "none"
    assert paths(event_errors(ex)) == {"/data/object/slots"}


def test_validate_event_names_each_failing_pointer() -> None:
    ex = example("booking.created")
    ex["created"] = "yesterday"
    ex["data"]["object"]["attendee_email"] = "nobody"
    del ex["data"]["object"]["title"]
    with pytest.raises(InvalidEvent) as info:
        validate_event(ex)
    message = str(info.value)
    for pointer in ("/created", "/data/object/attendee_email", "/data/object/title"):
        assert pointer in message
    assert {v.path for v in info.value.violations} == {
        "/created",
        "/data/object/attendee_email",
        "/data/object/title",
    }
    assert isinstance(info.value, ValueError)


def test_unknown_event_type_lists_known_types() -> None:
    with pytest.raises(UnknownEventType) as info:
        schema_for("booking.rescheduled")
    assert isinstance(info.value, ValueError)
    for event_type in EVENT_TYPES:
        assert event_type in str(info.value)
    with pytest.raises(UnknownEventType):
        validator_for("nope")
    with pytest.raises(UnknownEventType):
        event_errors(example("booking.created"), expected_type="nope")


def test_validator_is_compiled_once() -> None:
    assert validator_for("booking.created") is validator_for("booking.created")


def test_format_checker_asserts_the_schema_formats() -> None:
    checker = format_checker()
    assert {"date-time", "date", "email"} <= set(checker.checkers)
    assert not checker.conforms("2024-13-45T99:00:00Z", "date-time")
    assert not checker.conforms("yesterday", "date-time")
    assert checker.conforms("2024-01-15T10:30:00Z", "date-time")
    assert not checker.conforms("2024-02-30", "date")


def test_registry_resolves_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the schema registry must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    reg = registry()
    for event_type in EVENT_TYPES:
        uri = f"{SCHEMA_BASE_URI}{event_type}.schema.json"
        resolved = reg.resolver().lookup(uri)
        assert resolved.contents["properties"]["type"]["const"] == event_type
    resolver = reg.resolver(base_uri=f"{SCHEMA_BASE_URI}booking.created.schema.json")
    assert resolver.lookup("defs.schema.json#/$defs/booking").contents["type"] == "object"
    assert resolver.lookup("envelope.schema.json").contents["type"] == "object"
    # Every schema $id is under the reserved .invalid TLD, so nothing could be fetched anyway.
    assert SCHEMA_BASE_URI.startswith("https://schemas.punctual.invalid/")
    with pytest.raises(referencing.exceptions.Unresolvable):
        reg.resolver().lookup(f"{SCHEMA_BASE_URI}missing.schema.json")
    with pytest.raises(referencing.exceptions.Unresolvable):
        reg.resolver().lookup("https://example.com/schema.json")
    # And validation itself runs with the sockets disabled.
    assert event_errors(example("booking.created")) == []
