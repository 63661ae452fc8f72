"""``punctual listen``: the reference receiver on this machine, printing each event it gets."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, TextIO

from punctual_conformance.cli_common import EXIT_OK, CliError, secret_from_environment
from punctual_conformance.reference_receiver import Envelope, ReferenceReceiver, Reply

__all__ = ["PrintingReceiver", "run"]


class PrintingReceiver(ReferenceReceiver):
    """The reference receiver, printing one line per verified event, duplicate or rejection.

    Only events whose signature verified reach :meth:`handle_event` (once per event id).
    """

    def __init__(self, secret: str, *, out: TextIO, verbose: bool = False, **kwargs: Any) -> None:
        super().__init__(secret, **kwargs)
        self._out = out
        self._verbose = verbose
        self._print_lock = threading.Lock()

    def _print(self, *lines: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._print_lock:
            for index, line in enumerate(lines):
                self._out.write(f"{stamp} {line}\n" if index == 0 else f"{line}\n")
            self._out.flush()

    def handle_event(self, event: Envelope) -> None:
        from punctual_conformance.schemas import event_errors

        super().handle_event(event)
        lines = [f"received {event['id']} {event['type']}"]
        lines += [f"  not schema-valid: {violation}" for violation in event_errors(event)]
        if self._verbose:
            lines.append(json.dumps(event, indent=2, ensure_ascii=False))
        self._print(*lines)

    def acknowledge(self, event: Envelope, duplicate: bool) -> Reply:
        if duplicate:
            self._print(f"duplicate {event['id']} {event['type']} (already processed; "
                        "acknowledged again)")
        return super().acknowledge(event, duplicate)

    def reject(self, status: int, message: str) -> Reply:
        self._print(f"rejected ({status}): {message}")
        return super().reject(status, message)


def run(args: argparse.Namespace) -> int:
    secret = secret_from_environment()
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, got {args.port}")
    receiver = PrintingReceiver(
        secret.reveal(),
        out=sys.stdout,
        verbose=args.verbose,
        host=args.host,
        port=args.port,
        plain_http=args.plain_http,
        db_path=args.db,
    )
    try:
        receiver.start()
    except OSError as exc:
        raise CliError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        ca = receiver.ca_bundle
        print(f"webhook URL:  {receiver.url}")
        print(f"observer URL: {receiver.observer_url}")
        print(f"CA bundle:    {ca or '(none: plain HTTP)'}")
        print("verifying Punctual-Signature with the secret from $PUNCTUAL_WEBHOOK_SECRET")
        ca_option = f" --ca-bundle {ca}" if ca else " --allow-http"
        print(f"try:          punctual trigger booking.created --url {receiver.url}{ca_option}")
        print("Ctrl-C to stop.", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        receiver.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped.", file=sys.stderr, flush=True)
    return EXIT_OK


EPILOG = """\
Runs the bundled reference receiver (HTTPS with a certificate from a fresh, throw-away CA
whose PEM file is printed) and prints one line per event whose signature verified (with
--verbose also its JSON), per duplicate delivery and per rejected delivery. The secret comes
from $PUNCTUAL_WEBHOOK_SECRET. Point your sender at the printed webhook URL and make it trust
the printed CA bundle (e.g. SSL_CERT_FILE=PATH). Ctrl-C or SIGTERM stops it (exit 0)."""
