"""``punctual trigger``: send one signed example event to a webhook endpoint."""

from __future__ import annotations

import argparse
import json
import os
import ssl
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from punctual_conformance.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    secret_from_environment,
)

__all__ = [
    "CA_BUNDLE_ENV",
    "apply_overrides",
    "build_event",
    "check_url",
    "parse_assignment",
    "run",
    "ssl_context",
]

CA_BUNDLE_ENV = "PUNCTUAL_CA_BUNDLE"
SSL_CERT_FILE_ENV = "SSL_CERT_FILE"


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``data.object.title=Hello`` → ``(["data", "object", "title"], "Hello")``.

    The value is parsed as JSON when it is valid JSON (``42``, ``true``, ``null``,
    ``[1, 2]``, ``"quoted"``), else it is taken as a string.
    """
    key, sep, raw = text.partition("=")
    if not sep:
        raise CliError(f"--set {text!r}: expected KEY=VALUE, e.g. data.object.title=Hello")
    parts = key.strip().split(".")
    if not key.strip() or any(not part for part in parts):
        raise CliError(f"--set {text!r}: the key must be a dotted path such as data.object.title")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return parts, value


def _describe(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number"


def apply_overrides(envelope: dict[str, Any], assignments: Iterable[str]) -> None:
    """Apply each ``KEY=VALUE`` of ``--set`` to ``envelope`` in place.

    Missing objects on the way are created; an array is indexed by a number
    (``data.object.slots.0.available=false``).
    """
    for text in assignments:
        parts, value = parse_assignment(text)
        node: Any = envelope
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[:depth]) or "the envelope"
            if isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            elif isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise CliError(
                        f"--set {text!r}: {where} is an array of {len(node)} item(s); "
                        f"{part!r} is not an index in it"
                    )
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            else:
                raise CliError(
                    f"--set {text!r}: {where} is {_describe(node)}, not an object or array"
                )


def build_event(event_type: str, assignments: Iterable[str]) -> tuple[dict[str, Any], bytes]:
    """The seed example of ``event_type`` with a fresh id and created time, then ``--set``."""
    from punctual_conformance.events import (
        example_event,
        new_event_id,
        serialize,
        utc_now_rfc3339,
    )
    from punctual_conformance.schemas import EVENT_TYPES, UnknownEventType

    try:
        envelope = example_event(event_type)
    except UnknownEventType:
        raise CliError(
            f"unknown event type {event_type!r}; known types: {', '.join(EVENT_TYPES)} "
            "(to send another type, start from one and add --set type=NAME)"
        ) from None
    envelope["id"] = new_event_id()
    envelope["created"] = utc_now_rfc3339()
    apply_overrides(envelope, assignments)
    try:
        body = serialize(envelope)
    except ValueError as exc:  # pragma: no cover - JSON values parsed from JSON serialize back
        raise CliError(f"--set: the event cannot be encoded as JSON: {exc}") from None
    return envelope, body


def check_url(url: str, *, allow_http: bool) -> str:
    """The endpoint URL, if it is an absolute https:// (or, allowed, http://) URL."""
    import httpx

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise CliError(f"--url {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(
            f"--url {url!r} is not an absolute https:// URL (e.g. https://localhost:8443/webhook)"
        )
    if parts.scheme == "http" and not allow_http:
        raise CliError(
            f"--url {url!r}: refusing http:// (Punctual only delivers to https:// endpoints); "
            "add --allow-http for local development"
        )
    return url


def _load(context: ssl.SSLContext, path: str, source: str) -> None:
    if not Path(path).is_file():
        raise CliError(f"{source} {path!r}: no such file (a PEM file of CA certificates)")
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise CliError(
            f"{source} {path!r}: not a PEM file of CA certificates ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise CliError(f"{source} {path!r}: cannot read it ({exc.strerror or exc})") from None


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system trust store plus the extra CAs, like the suite.

    Extra CAs: ``--ca-bundle`` else ``$PUNCTUAL_CA_BUNDLE``, and ``$SSL_CERT_FILE`` (which
    OpenSSL reads anyway; it is loaded again here so that a bad path is reported, not ignored).
    """
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_bundle is not None:
        _load(context, ca_bundle, "--ca-bundle")
    elif os.environ.get(CA_BUNDLE_ENV):
        _load(context, os.environ[CA_BUNDLE_ENV], f"${CA_BUNDLE_ENV}")
    if os.environ.get(SSL_CERT_FILE_ENV):
        _load(context, os.environ[SSL_CERT_FILE_ENV], f"${SSL_CERT_FILE_ENV}")
    return context


def _status_line(status: int, latency_ms: float | None) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    latency = f" in {latency_ms:.1f} ms" if latency_ms is not None else ""
    return f"{status} {phrase}".rstrip() + latency


def run(args: argparse.Namespace) -> int:
    from punctual_conformance.client import TargetClient
    from punctual_conformance.schemas import event_errors
    from punctual_conformance.signing import SIGNATURE_HEADER, sign

    envelope, body = build_event(args.event_type, args.set or [])
    url = check_url(args.url, allow_http=args.allow_http)
    secret = secret_from_environment()
    context = ssl_context(args.ca_bundle)
    if args.timeout <= 0:
        raise CliError(f"--timeout must be greater than 0, got {args.timeout:g}")

    for violation in event_errors(envelope):
        print(f"warning: not schema-valid (sent anyway): {violation}")
    event_id, event_type = envelope.get("id"), envelope.get("type")
    print(f"POST {url}")
    print(f"  event    {event_id} {event_type} ({len(body)} bytes, signed)", flush=True)
    if args.verbose:
        print(f"  {SIGNATURE_HEADER}: {sign(secret.reveal(), body)}")
        print(f"  body:    {body.decode('utf-8')}", flush=True)

    with TargetClient(url, secret, timeout=args.timeout, ssl_context=context) as client:
        exchange = client.deliver(body, label="punctual trigger", event_id=str(event_id))
    if exchange.status is None:
        raise CliError(f"nothing delivered to {url}: {exchange.error}")
    print(f"  answer   {_status_line(exchange.status, exchange.latency_ms)}")
    if exchange.response_body:
        print(f"  body     {secret.redact(exchange.response_body)}")
    if exchange.acknowledged:
        print("acknowledged (2xx)", flush=True)
        return EXIT_OK
    if 300 <= exchange.status < 400:
        location = exchange.response_headers.get("location", "(no Location)")
        print(f"not acknowledged: a redirect to {location} is not followed (only 2xx "
              "acknowledges)", flush=True)
    else:
        print("not acknowledged (only 2xx acknowledges; Punctual would retry)", flush=True)
    return EXIT_FAILED


EPILOG = f"""\
Overrides: --set data.object.title=Hello, --set id=evt_again (to redeliver an id),
--set data.object.slots.0.available=false, --set type=booking.rescheduled. A value that is
valid JSON (42, true, null, [1], "text") is used as JSON, anything else as a string.

The event gets a fresh id and created time (before --set applies); the exact bytes sent are
signed with the secret from $PUNCTUAL_WEBHOOK_SECRET. Extra CA certificates to trust come from
--ca-bundle, else ${CA_BUNDLE_ENV}, and from ${SSL_CERT_FILE_ENV}. Redirects are not followed.

Exit status: {EXIT_OK} when the endpoint answered 2xx, {EXIT_FAILED} when it answered anything
else, {EXIT_USAGE} on bad input or when nothing could be delivered (connection refused, TLS
failure, timeout)."""
