"""Property-based generation (RCV-ACK-06): valid, Unicode, reproducible, generated from files."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import given, settings
from schemathesis.core.result import Ok

from punctual_conformance.generation import (
    OPENAPI_PATH_PREFIX,
    event_strategy,
    generated_events,
    openapi_document,
)
from punctual_conformance.schemas import EVENT_TYPES, UnknownEventType, event_errors, schema_for

COUNT = 10


@pytest.fixture(scope="module")
def events_by_type() -> dict[str, list[dict[str, Any]]]:
    return {event_type: generated_events(event_type, COUNT, seed=1) for event_type in EVENT_TYPES}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def test_openapi_document_is_built_from_the_schema_files() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    assert list(doc["webhooks"]) == list(EVENT_TYPES)
    assert list(doc["paths"]) == [OPENAPI_PATH_PREFIX + t for t in EVENT_TYPES]
    components = doc["components"]["schemas"]
    for event_type in EVENT_TYPES:
        bundled = components[event_type]
        assert "$id" not in bundled
        assert bundled["properties"]["type"] == schema_for(event_type)["properties"]["type"]
        assert bundled["examples"] == schema_for(event_type)["examples"]
    # Every $ref is local and points at something that exists.
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node[part]
        assert isinstance(node, dict)
    doc["info"]["title"] = "mutated"
    assert openapi_document()["info"]["title"] != "mutated"


def test_schemathesis_sees_one_operation_per_type() -> None:
    schema = schemathesis.openapi.from_dict(openapi_document())
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results)  # no invalid operation
    labels = {result.ok().label for result in results if isinstance(result, Ok)}
    assert labels == {f"POST {OPENAPI_PATH_PREFIX}{t}" for t in EVENT_TYPES}


def test_generated_events_are_schema_valid(events_by_type: dict[str, list[dict[str, Any]]]) -> None:
    for event_type, events in events_by_type.items():
        assert len(events) == COUNT
        assert len({json.dumps(e, sort_keys=True) for e in events}) == COUNT  # distinct
        for event in events:
            assert event["type"] == event_type
            assert event_errors(event) == []
            assert event_errors(event, expected_type=event_type) == []
            json.dumps(event, allow_nan=False)


def test_generated_events_include_non_ascii(
    events_by_type: dict[str, list[dict[str, Any]]],
) -> None:
    for event_type, events in events_by_type.items():
        texts = [json.dumps(e, ensure_ascii=False) for e in events]
        assert any(not text.isascii() for text in texts), event_type


def test_generation_is_reproducible(events_by_type: dict[str, list[dict[str, Any]]]) -> None:
    for event_type in EVENT_TYPES:
        assert generated_events(event_type, COUNT, seed=1) == events_by_type[event_type]
    assert generated_events("booking.created", COUNT, seed=2) != events_by_type["booking.created"]


def test_generation_is_fast() -> None:
    started = time.perf_counter()
    for event_type in EVENT_TYPES:
        generated_events(event_type, COUNT, seed=7)
    assert time.perf_counter() - started < 5.0


def test_generated_events_edge_counts() -> None:
    assert generated_events("user.created", 0) == []
    with pytest.raises(UnknownEventType):
        generated_events("booking.rescheduled", 1)


@settings(max_examples=20, database=None, deadline=None)
@given(event=event_strategy("availability.updated"))
def test_event_strategy_works_with_given(event: dict[str, Any]) -> None:
    assert event["type"] == "availability.updated"
    assert event_errors(event) == []
