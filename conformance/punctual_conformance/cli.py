"""``punctual``: the developer command line for integrators building a Punctual webhook receiver.

::

    punctual trigger booking.created --url https://localhost:8443/webhook [--set KEY=VALUE]
    punctual listen --port 8443                 # the reference receiver, printing each event
    printf '%s' "$BODY" | punctual sign         # the Punctual-Signature of stdin's bytes
    printf '%s' "$BODY" | punctual verify --signature HEX
    punctual vectors | schema TYPE | schema --list | openapi | asyncapi

The webhook secret is read from ``PUNCTUAL_WEBHOOK_SECRET`` only, never from an argument, and
is never printed. Bad input gives a one-line error and exit status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from punctual_conformance import __version__, cli_listen, cli_trigger
from punctual_conformance.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    emit,
    secret_from_environment,
)

__all__ = ["build_parser", "main"]

PROG = "punctual"

_DESCRIPTION = """\
Developer tools for Punctual Webhooks v1: send signed example events to your receiver, run
the reference receiver, sign and verify bodies, and print the contract (test vectors, JSON
Schemas, OpenAPI and AsyncAPI documents). Commands that sign or verify read the webhook
secret from the environment variable PUNCTUAL_WEBHOOK_SECRET (never from an argument)."""


# -- the small subcommands ----------------------------------------------------------------


def _read_stdin() -> bytes:
    return sys.stdin.buffer.read()


def _cmd_sign(args: argparse.Namespace) -> int:
    from punctual_conformance.signing import sign

    secret = secret_from_environment()
    emit(sign(secret.reveal(), _read_stdin()) + "\n")
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    from punctual_conformance.signing import sign, verify

    secret = secret_from_environment()
    body = _read_stdin()
    if verify(secret.reveal(), body, args.signature):
        emit("valid signature\n")
        return EXIT_OK
    given = str(args.signature).strip()
    hint = ""
    near = given.lower().removeprefix("sha256=")
    if near != given and near == sign(secret.reveal(), body):
        hint = (" (it would match as bare lowercase hex: Punctual sends the digest without "
                "a prefix, in lowercase)")
    emit(f"invalid signature: not the HMAC-SHA256 of stdin's {len(body)} bytes{hint}\n")
    return EXIT_FAILED


def _cmd_vectors(args: argparse.Namespace) -> int:
    from punctual_conformance.vectors import vectors_path

    path = vectors_path()
    if args.path:
        emit(f"{path}\n")
    else:
        text = path.read_text(encoding="utf-8")
        emit(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:
    from punctual_conformance.contract_docs import bundled_schema, to_json
    from punctual_conformance.schemas import EVENT_TYPES, envelope_schema, schema_for

    if args.list:
        if args.event_type is not None:
            raise CliError("give either an event type or --list, not both")
        emit("".join(f"{event_type}\n" for event_type in EVENT_TYPES))
        return EXIT_OK
    if args.event_type is None:
        raise CliError("name an event type (see: punctual schema --list), or 'envelope'")
    if args.event_type == "envelope":
        if args.bundled:
            raise CliError("the envelope schema is self-contained already: drop --bundled")
        emit(to_json(envelope_schema()))
        return EXIT_OK
    if args.event_type not in EVENT_TYPES:
        raise CliError(
            f"unknown event type {args.event_type!r}; known types: {', '.join(EVENT_TYPES)} "
            "(or 'envelope')"
        )
    schema = bundled_schema(args.event_type) if args.bundled else schema_for(args.event_type)
    emit(to_json(schema))
    return EXIT_OK


def _cmd_openapi(args: argparse.Namespace) -> int:
    from punctual_conformance.contract_docs import openapi_document, to_json

    emit(to_json(openapi_document()))
    return EXIT_OK


def _cmd_asyncapi(args: argparse.Namespace) -> int:
    from punctual_conformance.contract_docs import asyncapi_document, to_json

    emit(to_json(asyncapi_document()))
    return EXIT_OK


# -- the parser ---------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not between 0 and 65535: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=PROG, description=_DESCRIPTION, formatter_class=formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    trigger = commands.add_parser(
        "trigger",
        help="send a signed example event to a webhook endpoint",
        description="Send the product page's example event of TYPE, signed, to URL, and\n"
        "print the answer's status, latency and body.",
        epilog=cli_trigger.EPILOG,
        formatter_class=formatter,
    )
    trigger.add_argument("event_type", metavar="TYPE", help="event type, e.g. booking.created")
    trigger.add_argument("--url", required=True, help="the endpoint URL (https://…)")
    trigger.add_argument(
        "--set", action="append", metavar="KEY=VALUE",
        help="override a field by dotted path (repeatable), e.g. data.object.title=Hello",
    )
    trigger.add_argument(
        "--ca-bundle", metavar="PATH",
        help=f"PEM file of extra CAs to trust (default: ${cli_trigger.CA_BUNDLE_ENV})",
    )
    trigger.add_argument("--allow-http", action="store_true",
                         help="allow an http:// URL (local development only)")
    trigger.add_argument("--timeout", type=_positive_float, default=10.0, metavar="SECONDS",
                         help="how long to wait for the answer (default 10)")
    trigger.add_argument("-v", "--verbose", action="store_true",
                         help="also print the signature and the body sent")
    trigger.set_defaults(handler=cli_trigger.run)

    listen = commands.add_parser(
        "listen",
        help="run the reference receiver locally (HTTPS), printing each verified event",
        description="Run the reference receiver on this machine.",
        epilog=cli_listen.EPILOG,
        formatter_class=formatter,
    )
    listen.add_argument("--port", type=_port, default=8443,
                        help="port to listen on (default 8443; 0 picks a free one)")
    listen.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    listen.add_argument("--db", type=Path, metavar="PATH",
                        help="SQLite dedupe store (default: a temporary file)")
    listen.add_argument("--plain-http", action="store_true",
                        help="serve plain HTTP instead of HTTPS (local development only)")
    listen.add_argument("-v", "--verbose", action="store_true",
                        help="also print each event's JSON")
    listen.set_defaults(handler=cli_listen.run)

    sign = commands.add_parser(
        "sign",
        help="print the Punctual-Signature of the body on stdin",
        description="Print the lowercase hex HMAC-SHA256 of stdin's exact bytes, keyed with\n"
        "$PUNCTUAL_WEBHOOK_SECRET: the Punctual-Signature header value of that body.",
        epilog="Every byte counts: `echo` adds a newline that is signed too; use printf or "
        "< FILE.",
        formatter_class=formatter,
    )
    sign.set_defaults(handler=_cmd_sign)

    verify = commands.add_parser(
        "verify",
        help="check a Punctual-Signature against the body on stdin (exit 0 valid, 1 invalid)",
        description="Check that HEX is the Punctual-Signature of stdin's exact bytes under\n"
        "$PUNCTUAL_WEBHOOK_SECRET (constant-time). Exit status 0 when valid, 1 when not.",
        formatter_class=formatter,
    )
    verify.add_argument("--signature", required=True, metavar="HEX",
                        help="the Punctual-Signature header value")
    verify.set_defaults(handler=_cmd_verify)

    vectors = commands.add_parser(
        "vectors", help="print the signing test vectors (JSON)",
        description="Print the language-neutral signing test vectors (signing-vectors.json).",
    )
    vectors.add_argument("--path", action="store_true", help="print the file's path instead")
    vectors.set_defaults(handler=_cmd_vectors)

    schema = commands.add_parser(
        "schema", help="print the JSON Schema of an event type",
        description="Print the JSON Schema (draft 2020-12) of an event type, or 'envelope'.",
    )
    schema.add_argument("event_type", metavar="TYPE", nargs="?",
                        help="event type, e.g. booking.created, or 'envelope'")
    schema.add_argument("--list", action="store_true", help="list the event types")
    schema.add_argument("--bundled", action="store_true",
                        help="self-contained: the schemas it references go under $defs")
    schema.set_defaults(handler=_cmd_schema)

    openapi = commands.add_parser(
        "openapi", help="print the OpenAPI 3.1 document (webhooks)",
        description="Print the OpenAPI 3.1 document of the webhooks, generated from the schemas.",
    )
    openapi.set_defaults(handler=_cmd_openapi)

    asyncapi = commands.add_parser(
        "asyncapi", help="print the AsyncAPI 3.0 document",
        description="Print the AsyncAPI 3.0 document of the events, generated from the schemas.",
    )
    asyncapi.set_defaults(handler=_cmd_asyncapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (argparse's own errors also give 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exiting:  # --help, --version, or a usage error already printed
        return exiting.code if isinstance(exiting.code, int) else EXIT_USAGE
    try:
        status: int = args.handler(args)
    except CliError as error:
        sys.stdout.flush()
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:  # e.g. `punctual openapi | head`: stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return status


if __name__ == "__main__":
    sys.exit(main())
