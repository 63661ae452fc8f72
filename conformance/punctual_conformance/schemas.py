"""The JSON Schemas of the Punctual Webhooks v1 events, loaded offline and validated strictly.

The schema files live in ``schemas/`` (see :mod:`punctual_conformance.resources`). Their
``$id``\\ s are under ``https://schemas.punctual.invalid/`` -- a reserved TLD that can never be
fetched -- so every ``$ref`` must resolve from the files on disk; the registry's ``retrieve``
refuses anything else instead of touching the network.

Format keywords (``date-time``, ``date``, ``email``) are *asserted*: jsonschema only checks
``date-time`` when ``rfc3339-validator`` is installed (``jsonschema[format]``), and silently
passes everything otherwise. :func:`format_checker` refuses to run in that state.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing.jsonschema import DRAFT202012

from punctual_conformance.resources import schemas_dir

__all__ = [
    "ENVELOPE_SCHEMA_ID",
    "EVENT_TYPES",
    "SCHEMA_BASE_URI",
    "InvalidEvent",
    "SchemaViolation",
    "UnknownEventType",
    "envelope_schema",
    "envelope_validator",
    "event_errors",
    "format_checker",
    "registry",
    "schema_files",
    "schema_for",
    "schema_id",
    "validate_event",
    "validator_for",
]

SCHEMA_BASE_URI = "https://schemas.punctual.invalid/webhooks/v1/"
ENVELOPE_SCHEMA_ID = SCHEMA_BASE_URI + "envelope.schema.json"

#: The six v1 event types, in the order of the seed product page.
EVENT_TYPES: tuple[str, ...] = (
    "booking.created",
    "booking.updated",
    "booking.cancelled",
    "availability.updated",
    "user.created",
    "team.member_added",
)

#: Formats the schemas use; each must really be asserted by the format checker.
_REQUIRED_FORMATS = ("date-time", "date", "email")


class UnknownEventType(ValueError):
    """An event type that is not one of :data:`EVENT_TYPES`."""

    def __init__(self, event_type: object) -> None:
        self.event_type = event_type
        super().__init__(
            f"unknown Punctual event type {event_type!r}; known types: {', '.join(EVENT_TYPES)}"
        )


@dataclass(frozen=True)
class SchemaViolation:
    """One schema error: ``path`` is a JSON pointer into the event (``""`` is the root)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"


class InvalidEvent(ValueError):
    """An event that does not validate; ``violations`` lists every failing field."""

    def __init__(self, violations: list[SchemaViolation]) -> None:
        self.violations = violations
        details = "; ".join(str(v) for v in violations)
        super().__init__(f"invalid Punctual event ({len(violations)} error(s)): {details}")


def schema_id(event_type: str) -> str:
    """The ``$id`` of the schema of a known ``event_type``."""
    _check_known(event_type)
    return f"{SCHEMA_BASE_URI}{event_type}.schema.json"


def _check_known(event_type: object) -> None:
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(event_type)


def _refuse_retrieval(uri: str) -> referencing.Resource[Any]:
    """Never fetch: every schema the suite uses is a file in ``schemas/``."""
    # mypy's attrs plugin does not see referencing's own attrs wrapper; `ref=` is public API.
    raise referencing.exceptions.NoSuchResource(ref=uri)  # type: ignore[call-arg]


@functools.cache
def _load_all() -> dict[str, dict[str, Any]]:
    """Every ``*.schema.json`` in ``schemas/`` by ``$id`` (else by file name under the base)."""
    loaded: dict[str, dict[str, Any]] = {}
    for path in sorted(schemas_dir().glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(contents, dict):
            raise ValueError(f"{path} does not hold a JSON Schema object")
        uri = contents.get("$id", SCHEMA_BASE_URI + path.name)
        loaded[str(uri)] = contents
    missing = [t for t in EVENT_TYPES if f"{SCHEMA_BASE_URI}{t}.schema.json" not in loaded]
    if ENVELOPE_SCHEMA_ID not in loaded or missing:
        raise FileNotFoundError(
            f"schemas/ in {schemas_dir()} lacks the envelope or event schemas: {missing}"
        )
    return loaded


@functools.cache
def registry() -> referencing.Registry[Any]:
    """A crawled registry of all schema files, whose ``retrieve`` refuses unknown URIs."""
    resources = [
        (uri, referencing.Resource.from_contents(contents, default_specification=DRAFT202012))
        for uri, contents in _load_all().items()
    ]
    # `retrieve=` is referencing's documented alias of the private `_retrieve` attrs field,
    # which mypy's attrs plugin does not map.
    empty: referencing.Registry[Any] = referencing.Registry(
        retrieve=_refuse_retrieval  # type: ignore[call-arg]
    )
    return empty.with_resources(resources).crawl()


def schema_files() -> dict[str, dict[str, Any]]:
    """Every loaded schema file by ``$id`` (a new dict; the schemas themselves are shared)."""
    return dict(_load_all())


def schema_for(event_type: str) -> dict[str, Any]:
    """The (shared: do not mutate) schema of ``event_type``; raises :class:`UnknownEventType`."""
    _check_known(event_type)
    return _load_all()[schema_id(event_type)]


def envelope_schema() -> dict[str, Any]:
    """The (shared, do not mutate) envelope JSON Schema."""
    return _load_all()[ENVELOPE_SCHEMA_ID]


@functools.cache
def format_checker() -> FormatChecker:
    """A format checker that provably asserts ``date-time``, ``date`` and ``email``."""
    checker = FormatChecker()
    probes = {"date-time": "2024-13-45T99:00:00Z", "date": "2024-02-30", "email": "no-at-sign"}
    for name in _REQUIRED_FORMATS:
        if name not in checker.checkers or checker.conforms(probes[name], name):
            raise RuntimeError(
                f"jsonschema does not assert format {name!r}; install jsonschema[format] "
                "(rfc3339-validator) so that format checks are not silently skipped"
            )
    return checker


def _make_validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, registry=registry(), format_checker=format_checker())


@functools.cache
def envelope_validator() -> Draft202012Validator:
    """The compiled envelope validator (shared by all event types, also unknown ones)."""
    return _make_validator(envelope_schema())


@functools.cache
def validator_for(event_type: str) -> Draft202012Validator:
    """The compiled validator of ``event_type`` (built once, then cached)."""
    return _make_validator(schema_for(event_type))


def _pointer(parts: Iterable[object]) -> str:
    """RFC 6901 JSON pointer of a jsonschema error path."""
    return "".join("/" + _escape(str(part)) for part in parts)


def _violations(error: ValidationError) -> list[SchemaViolation]:
    """Turn one error into violations; a missing property is reported at its own pointer."""
    base = _pointer(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        for name in required:
            if name not in error.instance and error.message.startswith(repr(name)):
                return [SchemaViolation(f"{base}/{_escape(str(name))}", error.message)]
    return [SchemaViolation(base, error.message)]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _collect(validator: Draft202012Validator, event: object) -> list[SchemaViolation]:
    found: list[SchemaViolation] = []
    for error in validator.iter_errors(event):
        found.extend(_violations(error))
    return found


def event_errors(event: object, *, expected_type: str | None = None) -> list[SchemaViolation]:
    """All schema violations of ``event`` (empty when it is valid).

    The envelope is checked first. Then the event is checked against the schema of its own
    ``type`` when that type is known (an unknown type is only envelope-checked, which is what
    forward compatibility asks for), or against the schema of ``expected_type`` when given
    (e.g. a sender asked to deliver ``booking.created``), which must be a known type.
    """
    if expected_type is not None:
        _check_known(expected_type)
    found = _collect(envelope_validator(), event)
    event_type = expected_type
    if event_type is None and isinstance(event, Mapping):
        own = event.get("type")
        event_type = own if isinstance(own, str) and own in EVENT_TYPES else None
    if event_type is not None:
        seen = set(found)
        for violation in _collect(validator_for(event_type), event):
            if violation not in seen:
                seen.add(violation)
                found.append(violation)
    return sorted(found, key=lambda v: (v.path, v.message))


def validate_event(event: object, *, expected_type: str | None = None) -> None:
    """Raise :class:`InvalidEvent` naming each failing field's JSON pointer, if any."""
    violations = event_errors(event, expected_type=expected_type)
    if violations:
        raise InvalidEvent(violations)
