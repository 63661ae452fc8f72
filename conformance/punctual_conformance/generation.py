"""Property-based event generation for RCV-ACK-06, with schemathesis 4.

:func:`openapi_document` builds an OpenAPI 3.1 document from the schema files (never copied
by hand): the event schemas are bundled into ``components.schemas`` with every ``$ref``
rewritten to a local ``#/components/schemas/...`` pointer, because the schemas' own ``$id``\\ s
are under the unfetchable ``.invalid`` TLD. ``webhooks`` holds one entry per event type, as
OpenAPI 3.1 intends; schemathesis only generates for ``paths`` operations, so the same bodies
are also exposed as one ``POST /webhook/<event type>`` operation per type. Those paths only
exist to give each type its own operation: the suite always delivers to the target's single
endpoint URL.

Generated strings are Unicode (schemathesis' ``utf-8`` codec), so they include non-ASCII text.
NUL characters are switched off (``allow-x00 = false``): they are legal JSON, but RCV-ACK-06
is about schema-valid events, not about a storage layer's handling of ``\\u0000``.
Every generated body is re-checked with :func:`punctual_conformance.schemas.event_errors` and
dropped if jsonschema disagrees with the generator (a filter, so a receiver is never sent an
event the suite itself calls invalid).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st

from punctual_conformance.contract_docs import bundle_schemas
from punctual_conformance.schemas import (
    EVENT_TYPES,
    SCHEMA_BASE_URI,
    event_errors,
    schema_files,
    schema_for,
)

__all__ = [
    "OPENAPI_PATH_PREFIX",
    "event_strategy",
    "generated_events",
    "openapi_document",
]

OPENAPI_PATH_PREFIX = "/webhook/"

_COMPONENTS = "#/components/schemas/"


@functools.cache
def _document() -> dict[str, Any]:
    components = bundle_schemas(
        sorted(uri for uri in schema_files() if uri.startswith(SCHEMA_BASE_URI))
    )
    webhooks: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        schema = schema_for(event_type)
        operation = {
            "operationId": event_type,
            "summary": schema.get("title", event_type),
            "description": schema.get("description", ""),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": _COMPONENTS + event_type}}},
            },
            "responses": {"2XX": {"description": "Acknowledged (any 2xx, per the seed)."}},
        }
        webhooks[event_type] = {"post": operation}
        paths[OPENAPI_PATH_PREFIX + event_type] = {
            "post": {**copy.deepcopy(operation), "operationId": f"deliver.{event_type}"}
        }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Punctual Webhooks v1",
            "version": "1.0.0",
            "description": (
                "Generated from punctual-conformance's schemas/ folder. `webhooks` lists the "
                "events; `paths` repeats each as an operation so that schemathesis generates "
                "bodies for it (a receiver has one endpoint URL, not one per type)."
            ),
        },
        "paths": paths,
        "webhooks": webhooks,
        "components": {"schemas": components},
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the Punctual events (a fresh copy; safe to mutate)."""
    return copy.deepcopy(_document())


@functools.cache
def _schemathesis_schema() -> Any:
    # An explicit config: never pick up a schemathesis.toml from the user's working directory.
    config = schemathesis.Config.from_dict({"generation": {"codec": "utf-8", "allow-x00": False}})
    return schemathesis.openapi.from_dict(openapi_document(), config=config)


def _is_valid(event_type: str, body: object) -> bool:
    """The jsonschema verdict, plus strict JSON (no NaN/Infinity) so it can be serialized."""
    if not isinstance(body, dict) or event_errors(body, expected_type=event_type):
        return False
    try:
        json.dumps(body, allow_nan=False)
    except ValueError:
        return False
    return True


@functools.cache
def event_strategy(event_type: str) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy of schema-valid envelopes of ``event_type``, built by schemathesis."""
    schema_for(event_type)  # raises UnknownEventType early
    operation = _schemathesis_schema()[OPENAPI_PATH_PREFIX + event_type]["POST"]
    cases = operation.as_strategy()
    return cases.map(lambda case: case.body).filter(  # type: ignore[no-any-return]
        functools.partial(_is_valid, event_type)
    )


_GENERATION_SETTINGS = settings(
    database=None,
    derandomize=False,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
    verbosity=Verbosity.quiet,
)


class _Enough(Exception):
    """Raised inside the collecting test once enough distinct events were drawn."""


def generated_events(event_type: str, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """Draw ``count`` distinct schema-valid events of ``event_type``, reproducibly for ``seed``.

    Runs a ``@given`` test under ``@hypothesis.seed`` with no example database and only the
    generate phase, collecting each distinct drawn body; the same seed yields the same list.
    Hypothesis starts from the simplest example and may draw it more than once, so duplicates
    are skipped and the run is stopped (by an exception) as soon as ``count`` are collected.
    It may return fewer than ``count`` only if the budget of draws (``4 * count + 10``) ran out.
    Generated ids (e.g. ``evt_0``) may repeat across calls: give each a fresh id
    (:func:`punctual_conformance.events.new_event_id`) before delivering, where dedupe matters.
    """
    if count <= 0:
        return []
    collected: list[dict[str, Any]] = []
    seen: set[str] = set()

    @hypothesis.seed(seed)
    @settings(_GENERATION_SETTINGS, max_examples=4 * count + 10)
    @hypothesis.given(event_strategy(event_type))
    def collect(event: dict[str, Any]) -> None:
        key = json.dumps(event, sort_keys=True, ensure_ascii=False)
        if len(collected) < count and key not in seen:
            seen.add(key)
            collected.append(copy.deepcopy(event))
        if len(collected) >= count:
            raise _Enough  # the one raise site, so hypothesis's replay of it is not "flaky"

    with contextlib.suppress(_Enough):
        collect()
    return collected
