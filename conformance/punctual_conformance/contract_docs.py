"""Machine-readable contract documents, generated from ``schemas/`` (never copied by hand).

* :func:`openapi_document`: OpenAPI 3.1 with one ``webhooks`` entry per event type. Each
  describes the ``POST`` that Punctual makes: the event schema as the request body, the
  ``Punctual-Signature`` header, and the answers (any 2xx acknowledges; a 400 rejects a bad
  signature; anything else, a redirect included, is a failed attempt that is retried).
* :func:`asyncapi_document`: AsyncAPI 3.0 from the sender's point of view (Punctual *sends*),
  with one channel, one operation and one message per event type; the channel's address is
  the event type, and the server is the integrator's HTTPS endpoint.

Both are self-contained: the event schemas and the schemas they ``$ref`` (the envelope and
the shared definitions) are bundled into ``components.schemas``, every ``$ref`` rewritten to
a local JSON pointer, ``$id``/``$schema`` dropped (their URIs are under the unfetchable
``.invalid`` TLD). Component names are the schema file names without ``.schema.json``; the
AsyncAPI document writes them with ``_`` for ``.`` (``booking_created``), because AsyncAPI
tools commonly restrict keys to ``[A-Za-z0-9_-]``.

AsyncAPI 3.0's default schema format is a superset of JSON Schema draft 07, while the files
are draft 2020-12. The bundled schemas only use keywords both drafts share (``$defs`` only
serves as a JSON-pointer location, and no ``$ref`` has sibling keywords), which the project's
tests check, so the payloads mean the same under either draft.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urldefrag, urljoin

from punctual_conformance import __version__
from punctual_conformance.schemas import (
    EVENT_TYPES,
    SCHEMA_BASE_URI,
    schema_files,
    schema_for,
    schema_id,
)
from punctual_conformance.signing import SIGNATURE_HEADER

__all__ = [
    "ASYNCAPI_VERSION",
    "CONTRACT_VERSION",
    "OPENAPI_VERSION",
    "SIGNATURE_PATTERN",
    "asyncapi_component_name",
    "asyncapi_document",
    "bundle_schemas",
    "bundled_schema",
    "component_name",
    "openapi_document",
    "to_json",
]

OPENAPI_VERSION = "3.1.0"
ASYNCAPI_VERSION = "3.0.0"
#: The version of the contract the documents describe (Punctual Webhooks v1).
CONTRACT_VERSION = "1.0.0"
#: A valid ``Punctual-Signature`` value: 64 lowercase hex digits.
SIGNATURE_PATTERN = "^[0-9a-f]{64}$"

_OPENAPI_SCHEMAS = "#/components/schemas/"
_SIGNATURE_PARAMETER = "PunctualSignature"

_SIGNATURE_DESCRIPTION = (
    "Lowercase hex HMAC-SHA256 of the raw request body bytes, keyed with the UTF-8 bytes of "
    "the webhook secret. Verify it over the exact bytes received, before parsing, and compare "
    "in constant time; reject a delivery whose signature is missing or invalid."
)
_ACK_DESCRIPTION = (
    "Acknowledged: any 2xx status. The event counts as delivered and is not sent again. "
    "Events may still arrive more than once (at-least-once delivery): deduplicate on the "
    "envelope `id`, and acknowledge a redelivery with 2xx again."
)
_REJECT_DESCRIPTION = (
    "Rejected: a missing or invalid signature (or a body that is not an event). Receivers "
    "answer 4xx, preferably 400 as the product page's examples do, never 5xx, and perform "
    "no side effect."
)
_FAILED_DESCRIPTION = (
    "Any other status (a 3xx redirect included: redirects are not followed), a timeout or a "
    "connection error is a failed attempt; the delivery is retried with exponential backoff."
)


def component_name(uri: str) -> str:
    """``https://…/v1/booking.created.schema.json`` → ``booking.created``."""
    return uri.rsplit("/", 1)[-1].removesuffix(".schema.json")


def asyncapi_component_name(uri: str) -> str:
    """Like :func:`component_name` with ``.`` written ``_`` (``booking_created``)."""
    return component_name(uri).replace(".", "_")


def _refs(schema: Any, base_uri: str) -> Iterator[str]:
    """The absolute URIs (without fragment) of every ``$ref`` in ``schema``."""
    if isinstance(schema, list):
        for item in schema:
            yield from _refs(item, base_uri)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield urldefrag(urljoin(base_uri, value))[0]
            elif key not in ("examples", "const", "enum", "default"):
                yield from _refs(value, base_uri)


def _reachable(roots: list[str]) -> list[str]:
    """The schema URIs reachable from ``roots`` through ``$ref``, roots first, then sorted."""
    files = schema_files()
    seen: list[str] = []
    todo = list(roots)
    while todo:
        uri = todo.pop(0)
        if uri in seen:
            continue
        if uri not in files:
            raise ValueError(f"cannot bundle {uri!r}: it is not one of the schema files")
        seen.append(uri)
        todo.extend(ref for ref in _refs(files[uri], uri) if ref not in seen)
    return seen[: len(roots)] + sorted(seen[len(roots):])


def _rewrite(schema: Any, base_uri: str, pointer: Callable[[str], str]) -> Any:
    """Copy ``schema``, drop ``$id``/``$schema``, make each ``$ref`` a local pointer."""
    if isinstance(schema, list):
        return [_rewrite(item, base_uri, pointer) for item in schema]
    if not isinstance(schema, dict):
        return schema
    rewritten: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("$id", "$schema"):
            continue
        if key == "$ref" and isinstance(value, str):
            target, fragment = urldefrag(urljoin(base_uri, value))
            if not target.startswith(SCHEMA_BASE_URI):
                raise ValueError(f"cannot bundle a $ref outside the Punctual schemas: {value!r}")
            rewritten[key] = pointer(target) + fragment
        elif key in ("examples", "const", "enum", "default"):
            rewritten[key] = copy.deepcopy(value)  # instance data, not subschemas
        else:
            rewritten[key] = _rewrite(value, base_uri, pointer)
    return rewritten


def bundle_schemas(
    roots: list[str],
    *,
    prefix: str = _OPENAPI_SCHEMAS,
    name: Callable[[str], str] = component_name,
) -> dict[str, dict[str, Any]]:
    """The schemas of ``roots`` (``$id`` URIs) and all they reference, by component name.

    Every ``$ref`` becomes ``prefix + name(uri)`` followed by its JSON-pointer fragment, e.g.
    ``#/components/schemas/defs/$defs/booking``.
    """
    files = schema_files()
    return {
        name(uri): _rewrite(files[uri], uri, lambda target: prefix + name(target))
        for uri in _reachable(roots)
    }


def bundled_schema(event_type: str) -> dict[str, Any]:
    """The schema of ``event_type`` as one self-contained JSON Schema 2020-12 document.

    The schemas it references go under ``$defs`` (``#/$defs/envelope``, ``#/$defs/defs``…).
    Raises :class:`~punctual_conformance.schemas.UnknownEventType`.
    """
    root = schema_id(event_type)
    bundled = bundle_schemas([root], prefix="#/$defs/")
    own = bundled.pop(component_name(root))
    result: dict[str, Any] = {
        "$schema": schema_for(event_type).get(
            "$schema", "https://json-schema.org/draft/2020-12/schema"
        ),
        "$id": root,
    }
    result.update(own)
    if bundled:
        if "$defs" in result:  # pragma: no cover - the event schemas have no $defs of their own
            raise ValueError(f"{root} has $defs of its own; cannot bundle into them")
        result["$defs"] = bundled
    return result


def _event_ids() -> list[str]:
    return [schema_id(event_type) for event_type in EVENT_TYPES]


def _example(event_type: str) -> Any:
    examples = schema_for(event_type).get("examples") or []
    return copy.deepcopy(examples[0]) if examples else None


@functools.cache
def _openapi() -> dict[str, Any]:
    schemas = bundle_schemas(_event_ids())
    error_schema = {
        "type": "object",
        "description": "What the reference receiver answers; any body is allowed.",
        "properties": {"error": {"type": "string"}},
    }
    webhooks: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        schema = schema_for(event_type)
        media: dict[str, Any] = {"schema": {"$ref": _OPENAPI_SCHEMAS + event_type}}
        example = _example(event_type)
        if example is not None:
            media["examples"] = {
                "seed": {"summary": "The product page's example", "value": example}
            }
        webhooks[event_type] = {
            "post": {
                "operationId": event_type,
                "summary": schema.get("title", event_type),
                "description": schema.get("description", ""),
                "tags": [event_type.split(".", 1)[0]],
                "parameters": [{"$ref": f"#/components/parameters/{_SIGNATURE_PARAMETER}"}],
                "requestBody": {
                    "required": True,
                    "description": "The event envelope, UTF-8 JSON; the signature covers "
                    "exactly these bytes.",
                    "content": {"application/json": media},
                },
                "responses": {
                    "2XX": {"description": _ACK_DESCRIPTION},
                    "400": {
                        "description": _REJECT_DESCRIPTION,
                        "content": {"application/json": {"schema": error_schema}},
                    },
                    "default": {"description": _FAILED_DESCRIPTION},
                },
            }
        }
    return {
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Punctual Webhooks v1",
            "version": CONTRACT_VERSION,
            "description": (
                "The webhook deliveries Punctual makes to an integrator's HTTPS endpoint "
                "(plain http:// endpoints are never delivered to). Generated by "
                f"punctual-conformance {__version__} from its schemas/ folder."
            ),
        },
        "webhooks": webhooks,
        "components": {
            "schemas": schemas,
            "parameters": {
                _SIGNATURE_PARAMETER: {
                    "name": SIGNATURE_HEADER,
                    "in": "header",
                    "required": True,
                    "description": _SIGNATURE_DESCRIPTION,
                    "schema": {"type": "string", "pattern": SIGNATURE_PATTERN},
                }
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 contract document (a fresh copy; safe to mutate)."""
    return copy.deepcopy(_openapi())


@functools.cache
def _asyncapi() -> dict[str, Any]:
    prefix = "#/components/schemas/"
    schemas = bundle_schemas(_event_ids(), prefix=prefix, name=asyncapi_component_name)
    schemas["signature_headers"] = {
        "type": "object",
        "required": [SIGNATURE_HEADER],
        "properties": {
            SIGNATURE_HEADER: {
                "type": "string",
                "pattern": SIGNATURE_PATTERN,
                "description": _SIGNATURE_DESCRIPTION,
            },
            "Content-Type": {
                "type": "string",
                "description": "`application/json` (a charset parameter may follow).",
            },
        },
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        key = event_type.replace(".", "_")
        schema = schema_for(event_type)
        message: dict[str, Any] = {
            "name": event_type,
            "title": schema.get("title", event_type),
            "summary": f"A `{event_type}` event.",
            "description": schema.get("description", ""),
            "contentType": "application/json",
            "headers": {"$ref": prefix + "signature_headers"},
            "payload": {"$ref": prefix + key},
        }
        example = _example(event_type)
        if example is not None:
            message["examples"] = [
                {"name": "seed", "summary": "The product page's example", "payload": example}
            ]
        messages[key] = message
        channels[key] = {
            "address": event_type,
            "title": event_type,
            "description": (
                f"`{event_type}` events. Every event type is delivered to the same endpoint "
                "URL; the channel's address is the event type, found in the envelope's `type`."
            ),
            "servers": [{"$ref": "#/servers/receiver"}],
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"send_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "title": f"Deliver {event_type}",
            "summary": schema.get("title", event_type),
            "description": (
                "An HTTPS POST of the signed event to the endpoint. "
                + _ACK_DESCRIPTION + " " + _FAILED_DESCRIPTION
            ),
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Punctual Webhooks v1",
            "version": CONTRACT_VERSION,
            "description": (
                "The events Punctual sends to an integrator's webhook endpoint, as HTTPS POST "
                "requests signed with HMAC-SHA256. This document takes Punctual's (the "
                "sender's) point of view: its operations *send*. Generated by "
                f"punctual-conformance {__version__} from its schemas/ folder."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "receiver": {
                "host": "{host}",
                "pathname": "{path}",
                "protocol": "https",
                "description": "The integrator's webhook endpoint (https only).",
                "variables": {
                    "host": {
                        "default": "localhost:8443",
                        "description": "Host (and port) of the endpoint URL.",
                    },
                    "path": {"default": "/webhook", "description": "Path of the endpoint URL."},
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 contract document (a fresh copy; safe to mutate)."""
    return copy.deepcopy(_asyncapi())


def to_json(document: Any) -> str:
    """Pretty JSON (UTF-8 text kept as is) with a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
