"""The OpenAPI 3.1 and AsyncAPI 3.0 contract documents: generated from schemas/, valid, whole.

OpenAPI is validated with openapi-spec-validator. AsyncAPI is validated against the official
AsyncAPI 3.0.0 JSON Schema, which is published in the npm package ``@asyncapi/specs``
(installed by ``npm install --prefix tests/node``; no PyPI package carries it), plus precise
structural assertions below; every
``$ref`` of both documents is resolved, and each bundled schema is shown to accept the seed's
example and to reject a broken one, with the draft the format in question uses.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

from paths import ROOT
from punctual_conformance import contract_docs
from punctual_conformance.contract_docs import (
    SIGNATURE_PATTERN,
    asyncapi_document,
    bundled_schema,
    openapi_document,
)
from punctual_conformance.events import example_event
from punctual_conformance.schemas import (
    EVENT_TYPES,
    SCHEMA_BASE_URI,
    format_checker,
    schema_files,
    schema_for,
)
from punctual_conformance.signing import SIGNATURE_HEADER
from toolchains import skip_or_fail

ASYNCAPI_SCHEMA = ROOT / "tests" / "node" / "node_modules" / "@asyncapi" / "specs" / "schemas" \
    / "3.0.0.json"


@pytest.fixture(scope="module")
def asyncapi_validator() -> Draft7Validator:
    """The official AsyncAPI 3.0.0 schema (draft 07, its definitions keyed by their $id)."""
    if not ASYNCAPI_SCHEMA.is_file():
        skip_or_fail("the official AsyncAPI schema is missing: run "
                     "`npm install --prefix tests/node`")
    root = json.loads(ASYNCAPI_SCHEMA.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resources(
        (uri, DRAFT7.create_resource(schema))
        for uri, schema in root.get("definitions", {}).items()
    )
    return Draft7Validator(root, registry=registry)

DOC_URI = "urn:punctual:contract"


def refs(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, $ref) for every $ref in ``node``, skipping example instance data."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            elif key not in ("examples", "example", "const", "enum", "default"):
                yield from refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from refs(item, f"{path}/{index}")


def resolve(document: Any, ref: str) -> Any:
    assert ref.startswith("#/"), f"not a local reference: {ref}"
    node = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def invalid_example(event_type: str) -> dict[str, Any]:
    """The seed example broken by a format only a real format check catches."""
    event = example_event(event_type)
    event["created"] = "2024-13-45T99:00:00Z"
    return event


def with_bundled_files(changed: dict[str, dict[str, Any]]) -> Any:
    """``schema_files`` as if the files in ``changed`` (by $id) had other contents."""
    files = schema_files()

    def patched() -> dict[str, dict[str, Any]]:
        return {**files, **changed}

    return patched


# -- OpenAPI 3.1 ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return openapi_document()


def test_openapi_document_is_valid_openapi_3_1(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"] == "3.1.0"
    validate_openapi(openapi)  # raises on any violation of the OpenAPI 3.1 schema


def test_the_openapi_validator_is_not_vacuous(openapi: dict[str, Any]) -> None:
    broken = copy.deepcopy(openapi)
    del broken["components"]["parameters"]["PunctualSignature"]["in"]
    with pytest.raises(Exception, match="in"):
        validate_openapi(broken)


def test_openapi_has_one_webhook_per_event_type(openapi: dict[str, Any]) -> None:
    assert list(openapi["webhooks"]) == list(EVENT_TYPES)
    assert "paths" not in openapi  # a receiver has one endpoint URL, chosen by the integrator
    for event_type, item in openapi["webhooks"].items():
        assert list(item) == ["post"]
        operation = item["post"]
        assert operation["operationId"] == event_type
        assert operation["summary"] == schema_for(event_type)["title"]
        body = operation["requestBody"]
        assert body["required"] is True
        media = body["content"]["application/json"]
        assert media["schema"] == {"$ref": f"#/components/schemas/{event_type}"}
        assert media["examples"]["seed"]["value"] == schema_for(event_type)["examples"][0]
        assert set(operation["responses"]) == {"2XX", "400", "default"}
        assert "2xx" in operation["responses"]["2XX"]["description"]
        assert "retried" in operation["responses"]["default"]["description"]
        parameters = [resolve(openapi, p["$ref"]) for p in operation["parameters"]]
        assert parameters == [{
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": parameters[0]["description"],
            "schema": {"type": "string", "pattern": SIGNATURE_PATTERN},
        }]
        assert "HMAC-SHA256" in parameters[0]["description"]


@pytest.mark.parametrize("make", [openapi_document, asyncapi_document], ids=["openapi", "asyncapi"])
def test_documents_are_self_contained(make: Any) -> None:
    document = make()
    found = list(refs(document))
    assert found
    for where, ref in found:
        assert ref.startswith("#/"), f"{where}: {ref} is not local"
        resolve(document, ref)  # raises KeyError if it dangles
    text = json.dumps(document)
    assert "$id" not in text and SCHEMA_BASE_URI not in text
    assert ".invalid" not in text


def test_openapi_components_are_the_schema_files_bundled(openapi: dict[str, Any]) -> None:
    components = openapi["components"]["schemas"]
    assert set(components) == {*EVENT_TYPES, "envelope", "defs"}
    for name, schema in components.items():
        source = schema_files()[f"{SCHEMA_BASE_URI}{name}.schema.json"]
        assert schema["title"] == source["title"]
        assert schema["description"] == source["description"]
        assert set(schema) == set(source) - {"$id", "$schema"}


def test_openapi_components_match_the_generation_document(openapi: dict[str, Any]) -> None:
    """The schemathesis document of RCV-ACK-06 bundles the same files the same way."""
    from punctual_conformance.generation import openapi_document as generation_document

    generated = generation_document()["components"]["schemas"]
    for name, schema in openapi["components"]["schemas"].items():
        assert schema == generated[name]


def _openapi_validator(document: dict[str, Any], event_type: str) -> Draft202012Validator:
    registry: Registry[Any] = Registry().with_resource(
        DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{DOC_URI}#/components/schemas/{event_type}"},
        registry=registry,
        format_checker=format_checker(),
    )


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_openapi_schemas_keep_their_meaning(openapi: dict[str, Any], event_type: str) -> None:
    validator = _openapi_validator(openapi, event_type)
    assert list(validator.iter_errors(example_event(event_type))) == []
    assert list(validator.iter_errors(invalid_example(event_type)))
    wrong_type = example_event(event_type)
    wrong_type["data"] = {}
    assert list(validator.iter_errors(wrong_type))  # data.object is required (the envelope)


def test_documents_follow_the_schema_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated, never copied: a change of a schema file shows in both documents."""
    uri = f"{SCHEMA_BASE_URI}booking.created.schema.json"
    changed = copy.deepcopy(schema_files()[uri])
    changed["properties"]["data"]["properties"]["object"]["properties"]["room"] = {
        "type": "string"
    }
    try:
        with monkeypatch.context() as patch:
            patch.setattr(contract_docs, "schema_files", with_bundled_files({uri: changed}))
            contract_docs._openapi.cache_clear()
            contract_docs._asyncapi.cache_clear()
            for document, name in ((openapi_document(), "booking.created"),
                                   (asyncapi_document(), "booking_created")):
                schema = document["components"]["schemas"][name]
                properties = schema["properties"]["data"]["properties"]["object"]["properties"]
                assert properties["room"] == {"type": "string"}
    finally:
        contract_docs._openapi.cache_clear()
        contract_docs._asyncapi.cache_clear()
    schema = openapi_document()["components"]["schemas"]["booking.created"]
    assert "room" not in schema["properties"]["data"]["properties"]["object"]["properties"]


# -- AsyncAPI 3.0 -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return asyncapi_document()


def test_asyncapi_document_is_valid_against_the_official_schema(
    asyncapi: dict[str, Any], asyncapi_validator: Draft7Validator
) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    errors = [f"{e.json_path}: {e.message}" for e in asyncapi_validator.iter_errors(asyncapi)]
    assert errors == []


@pytest.mark.parametrize(
    "breakage",
    ["action", "unknown-field", "channel-ref", "version"],
)
def test_the_asyncapi_validation_is_not_vacuous(
    asyncapi: dict[str, Any], asyncapi_validator: Draft7Validator, breakage: str
) -> None:
    broken = copy.deepcopy(asyncapi)
    operation = broken["operations"]["send_booking_created"]
    if breakage == "action":
        operation["action"] = "publish"  # AsyncAPI 2 wording, invalid in 3.0
    elif breakage == "unknown-field":
        broken["channels"]["booking_created"]["topic"] = "x"  # only x- extensions allowed
    elif breakage == "channel-ref":
        operation["channel"] = "booking_created"  # must be a Reference Object
    else:
        broken["asyncapi"] = "2.6.0"
    assert not asyncapi_validator.is_valid(broken)


def test_asyncapi_has_a_channel_operation_and_message_per_event_type(
    asyncapi: dict[str, Any],
) -> None:
    keys = [event_type.replace(".", "_") for event_type in EVENT_TYPES]
    assert list(asyncapi["channels"]) == keys
    assert list(asyncapi["operations"]) == [f"send_{key}" for key in keys]
    assert list(asyncapi["components"]["messages"]) == keys
    assert asyncapi["defaultContentType"] == "application/json"
    server = asyncapi["servers"]["receiver"]
    assert server["protocol"] == "https"
    assert set(server["variables"]) == {"host", "path"}  # each {variable} is declared
    for event_type, key in zip(EVENT_TYPES, keys, strict=True):
        channel = asyncapi["channels"][key]
        assert channel["address"] == event_type
        assert [resolve(asyncapi, s["$ref"]) for s in channel["servers"]] == [server]
        message = resolve(asyncapi, channel["messages"][key]["$ref"])
        assert message is asyncapi["components"]["messages"][key]
        assert message["name"] == event_type
        assert message["contentType"] == "application/json"
        assert message["examples"][0]["payload"] == schema_for(event_type)["examples"][0]

        operation = asyncapi["operations"][f"send_{key}"]
        assert operation["action"] == "send"
        assert resolve(asyncapi, operation["channel"]["$ref"]) is channel
        # AsyncAPI 3.0: an operation's messages are references into its channel's messages.
        assert operation["messages"] == [{"$ref": f"#/channels/{key}/messages/{key}"}]
        assert resolve(asyncapi, operation["messages"][0]["$ref"]) is channel["messages"][key]

        payload = resolve(asyncapi, message["payload"]["$ref"])
        assert payload["title"] == schema_for(event_type)["title"]
        headers = resolve(asyncapi, message["headers"]["$ref"])
        assert headers["required"] == [SIGNATURE_HEADER]
        assert headers["properties"][SIGNATURE_HEADER]["pattern"] == SIGNATURE_PATTERN


#: JSON Schema keywords of draft 07 (AsyncAPI 3.0's default schema format is a superset).
DRAFT7_KEYWORDS = {
    "$ref", "$comment", "title", "description", "default", "examples", "readOnly",
    "writeOnly", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "maxLength", "minLength", "pattern", "additionalItems", "items", "maxItems", "minItems",
    "uniqueItems", "contains", "maxProperties", "minProperties", "required",
    "additionalProperties", "definitions", "properties", "patternProperties", "dependencies",
    "propertyNames", "const", "enum", "type", "format", "contentMediaType",
    "contentEncoding", "if", "then", "else", "allOf", "anyOf", "oneOf", "not",
}
#: Maps whose keys are names (of properties or definitions), not keywords.
_NAME_MAPS = {"properties", "patternProperties", "$defs", "definitions"}


def keywords(schema: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, list):
        for item in schema:
            yield from keywords(item)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            yield key, schema
            if key in _NAME_MAPS and isinstance(value, dict):
                for sub in value.values():
                    yield from keywords(sub)
            elif key not in ("examples", "const", "enum", "default"):
                yield from keywords(value)


def test_asyncapi_payloads_mean_the_same_under_draft_07(asyncapi: dict[str, Any]) -> None:
    for name, schema in asyncapi["components"]["schemas"].items():
        for keyword, owner in keywords(schema):
            # $defs is only ever a JSON-pointer location (the target of #/…/defs/$defs/x).
            assert keyword in DRAFT7_KEYWORDS or keyword == "$defs", f"{name}: {keyword}"
            if keyword == "$ref":  # draft 07 ignores a $ref's siblings
                assert list(owner) == ["$ref"], f"{name}: $ref with siblings {list(owner)}"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_asyncapi_payloads_keep_their_meaning(asyncapi: dict[str, Any], event_type: str) -> None:
    registry: Registry[Any] = Registry().with_resource(
        DOC_URI, Resource.from_contents(asyncapi, default_specification=DRAFT7)
    )
    message = asyncapi["components"]["messages"][event_type.replace(".", "_")]
    checker = FormatChecker()  # draft 07's checker asserts date-time with jsonschema[format]
    validator = Draft7Validator(
        {"$ref": DOC_URI + message["payload"]["$ref"]}, registry=registry, format_checker=checker
    )
    assert list(validator.iter_errors(example_event(event_type))) == []
    assert list(validator.iter_errors(invalid_example(event_type)))
    email_types = {"booking.created", "booking.updated", "booking.cancelled", "user.created"}
    if event_type in email_types:
        event = example_event(event_type)
        field = "attendee_email" if event_type.startswith("booking") else "email"
        event["data"]["object"][field] = "no-at-sign"
        assert list(validator.iter_errors(event))


# -- bundled single schemas (punctual schema TYPE --bundled) ------------------------------


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_bundled_schema_is_a_self_contained_2020_12_schema(event_type: str) -> None:
    bundled = bundled_schema(event_type)
    Draft202012Validator.check_schema(bundled)
    assert set(bundled["$defs"]) == {"envelope", "defs"}
    for where, ref in refs(bundled):
        assert ref.startswith("#/$defs/"), f"{where}: {ref}"
        resolve(bundled, ref)
    # No registry: every reference must resolve inside the document itself.
    validator = Draft202012Validator(bundled, format_checker=format_checker())
    assert list(validator.iter_errors(example_event(event_type))) == []
    assert list(validator.iter_errors(invalid_example(event_type)))
    assert bundled["$id"] == f"{SCHEMA_BASE_URI}{event_type}.schema.json"


def test_bundling_refuses_a_reference_outside_the_schemas() -> None:
    with pytest.raises(ValueError, match="outside"):
        contract_docs._rewrite({"$ref": "https://example.com/x.json"}, SCHEMA_BASE_URI,
                               lambda uri: uri)
