"""The reference Punctual webhook receiver: the model an integrator should copy.

What it does with ``POST /webhook``, in this order:

1. read the raw body (``Content-Length`` required, at most ``max_body_bytes``, else 411/413);
2. verify ``Punctual-Signature`` over those raw bytes, in constant time, *before* parsing
   (missing or invalid: ``400 {"error": ...}``, and nothing is processed);
3. parse the JSON envelope; it needs a string ``id`` and ``type`` (else 400);
4. process the event exactly once, deduped on the event ``id`` in a SQLite transaction
   (:mod:`punctual_conformance.receiver_store`); any event type, known or not, is accepted;
5. acknowledge with ``200 {"received": true}`` -- also for a duplicate
   (``{"received": true, "duplicate": true}``): refusing a redelivery makes the sender retry.

``GET /observer?event_id=<id>`` answers ``200 {"processed": <int>}`` (the observer hook of the
conformance profile, section 4). Anything else is 404, or 405 for a wrong method on a known path.

It serves HTTPS (certificate from a fresh :class:`~punctual_conformance.tls.EphemeralCA` unless
given a context), one thread per connection. The TLS handshake happens in the connection's thread
under a timeout, never in the accepting thread, so a client that connects and stays silent cannot
block anyone else; every connection has a read timeout; Nagle is off; nothing is logged per
request except at DEBUG level; the secret never appears in a repr, log line or error message.

Building a deliberately flawed receiver (for the suite's own tests): subclass
:class:`ReferenceReceiver` and override exactly one of these methods:

==========================================  ===================================================
``signature_is_valid(body, header)``         e.g. ``return True`` (no verification), or verify
                                             ``json.dumps(json.loads(body))`` (re-serializing)
``parse_event(body)``                        e.g. require the six known types (ValueError → 400)
``process(event) -> bool``                   e.g. no dedupe: ``self.store.record_effect(...)``
``handle_event(event)``                      the business side effect (default: nothing extra)
``acknowledge(event, duplicate) -> Reply``   e.g. ``Reply(409, ...)`` for duplicates, a redirect
``reject(status, message) -> Reply``         e.g. ``Reply(500, ...)`` for bad signatures
``answer_other(method, path) -> Reply``      e.g. ``Reply(200, ...)`` for ``GET /webhook``
==========================================  ===================================================

Command line (the secret comes from the environment, never from an argument)::

    PUNCTUAL_WEBHOOK_SECRET=... python -m punctual_conformance.reference_receiver \\
        --host 127.0.0.1 --port 8443 [--plain-http] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import ssl
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from punctual_conformance.receiver_store import ReceiverStore
from punctual_conformance.signing import SIGNATURE_HEADER, verify
from punctual_conformance.tls import DEFAULT_IDENTITIES, EphemeralCA
from punctual_conformance.tls_server import TlsThreadingServer

__all__ = [
    "OBSERVER_PATH",
    "SECRET_ENV",
    "WEBHOOK_PATH",
    "ReferenceReceiver",
    "Reply",
    "main",
]

WEBHOOK_PATH = "/webhook"
OBSERVER_PATH = "/observer"
SECRET_ENV = "PUNCTUAL_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)

Envelope = dict[str, Any]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, a JSON body, extra headers."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


class ReferenceReceiver:
    """A running (after :meth:`start`) reference receiver. Use it as a context manager.

    ``tls``: the server context; by default one from a fresh :class:`EphemeralCA` (then
    :attr:`ca_bundle` is the CA's PEM file). ``plain_http=True`` serves plain HTTP instead, for
    tests of the suite only (Punctual never delivers to ``http://``). ``db_path``: the dedupe
    store's SQLite file (durable across restarts); by default a temporary file.
    """

    max_body_bytes = 1024 * 1024
    handshake_timeout = 5.0  # seconds for a client to complete the TLS handshake
    read_timeout = 10.0  # seconds any single read or write on a connection may take

    def __init__(
        self,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        plain_http: bool = False,
        db_path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(secret, str) or not secret:
            raise ValueError("the webhook secret must be a non-empty string")
        if plain_http and tls is not None:
            raise ValueError("give either tls or plain_http=True, not both")
        self._secret = secret
        self.host = host
        self._requested_port = port
        self._workdir = tempfile.TemporaryDirectory(prefix="punctual-reference-receiver-")
        self._ca_bundle: Path | None = None
        self._tls: ssl.SSLContext | None = None
        if not plain_http:
            if tls is None:
                ca = EphemeralCA((*DEFAULT_IDENTITIES, _url_host(host).strip("[]")))
                tls = ca.server_context()
                self._ca_bundle = ca.write_ca_bundle(self._workdir.name)
            self._tls = tls
        self.store = ReceiverStore(
            db_path if db_path is not None else Path(self._workdir.name) / "events.sqlite3"
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ReferenceReceiver:
        """Bind and serve in a background thread; return ``self``."""
        with self._lock:
            if self._server is not None or self._stopped:
                raise RuntimeError("a ReferenceReceiver can be started once")
            server = _Server((self.host, self._requested_port), self)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"punctual-reference-receiver:{server.server_address[1]}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread. Idempotent."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server, self._thread, self._stopped = None, None, True
        if server is None or thread is None:
            return
        server.shutdown()  # the accept loop ends; no new connections
        server.abort_connections()  # wake threads blocked in a handshake or read
        server.server_close()  # close the listening socket and join the connection threads
        thread.join()

    def __enter__(self) -> ReferenceReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        where = self.url if self._server is not None else f"{self.host}:{self._requested_port}"
        return f"<ReferenceReceiver {state} {where}>"

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the receiver is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://{_url_host(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """The webhook endpoint URL."""
        return self.base_url + WEBHOOK_PATH

    @property
    def observer_url(self) -> str:
        return self.base_url + OBSERVER_PATH

    @property
    def ca_bundle(self) -> Path | None:
        """The PEM file of the CA that signed the certificate (None if unknown or plain HTTP)."""
        return self._ca_bundle

    def processed_count(self, event_id: str) -> int:
        """How many times the event's side effect was performed."""
        return self.store.processed_count(event_id)

    # -- the steps of a delivery (override one to build a flawed receiver) ------------------

    def handle_delivery(self, body: bytes, signature: str | None) -> Reply:
        """The whole decision for one ``POST /webhook`` with the raw ``body``."""
        if not self.signature_is_valid(body, signature):
            return self.reject(400, f"missing or invalid {SIGNATURE_HEADER} header")
        try:
            event = self.parse_event(body)
        except ValueError as exc:
            return self.reject(400, str(exc))
        first_time = self.process(event)
        return self.acknowledge(event, duplicate=not first_time)

    def signature_is_valid(self, body: bytes, header: str | None) -> bool:
        """Constant-time HMAC-SHA256 check over the raw bytes, before any parsing."""
        return verify(self._secret, body, header)

    def parse_event(self, body: bytes) -> Envelope:
        """Parse the envelope; raise ``ValueError`` (→ 400) unless it has string id and type."""
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd nesting
            raise ValueError("body is not valid JSON") from None
        if not isinstance(event, dict):
            raise ValueError("the envelope must be a JSON object")
        for key in ("id", "type"):
            if not isinstance(event.get(key), str) or not event[key]:
                raise ValueError(f"the envelope needs a non-empty string {key!r}")
        return event

    def process(self, event: Envelope) -> bool:
        """Perform the side effect once per event id; ``False`` for a duplicate."""
        return self.store.process_once(
            event["id"], event["type"], side_effect=lambda: self.handle_event(event)
        )

    def handle_event(self, event: Envelope) -> None:
        """The business side effect of an event (any type, known or not). Runs once per id."""
        _log.debug("processing %s (%s)", event["id"], event["type"])

    def acknowledge(self, event: Envelope, duplicate: bool) -> Reply:
        body: dict[str, Any] = {"received": True}
        if duplicate:
            body["duplicate"] = True
        return Reply(200, body)

    def reject(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": message})

    def answer_other(self, method: str, path: str) -> Reply:
        """Any request that is neither a delivery nor an observer query: 404, or 405 for a
        wrong method on a known path (a GET of the webhook is never acknowledged)."""
        allowed = {WEBHOOK_PATH: "POST", OBSERVER_PATH: "GET"}.get(path)
        if allowed is None:
            return Reply(404, {"error": "not found"})
        return Reply(405, {"error": "method not allowed"}, {"Allow": allowed})


# -- HTTP plumbing ------------------------------------------------------------------------


def _url_host(host: str) -> str:
    """The host as it appears in a URL: wildcard binds map to loopback, IPv6 gets brackets."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"[{host}]" if ":" in host else host


class _Server(TlsThreadingServer):
    def __init__(self, address: tuple[str, int], receiver: ReferenceReceiver) -> None:
        self.receiver = receiver
        super().__init__(address, _Handler, receiver._tls,
                         handshake_timeout=receiver.handshake_timeout,
                         read_timeout=receiver.read_timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Resets, timeouts and the like from one connection: not worth a traceback on stderr.
        _log.debug("connection error from %s", client_address[0], exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: senders may reuse connections
    server_version = "punctual-reference-receiver"
    server: _Server

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path != WEBHOOK_PATH:
            self._send_not_found_or_not_allowed(path)
            return
        body = self._read_body()
        if body is None:
            return
        values = self.headers.get_all(SIGNATURE_HEADER) or []
        signature = values[0] if len(values) == 1 else None  # two signatures: invalid
        try:
            reply = self.server.receiver.handle_delivery(body, signature)
        except Exception:
            _log.exception("internal error while handling a delivery")
            reply = Reply(500, {"error": "internal error"})
        self._send(reply)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != OBSERVER_PATH:
            self._send_not_found_or_not_allowed(url.path)
            return
        ids = parse_qs(url.query, max_num_fields=10).get("event_id", [])
        if len(ids) != 1 or not ids[0]:
            self._send(Reply(400, {"error": "exactly one event_id query parameter is needed"}))
            return
        self._send(Reply(200, {"processed": self.server.receiver.processed_count(ids[0])}))

    def _other_method(self) -> None:
        self._send_not_found_or_not_allowed(urlsplit(self.path).path)

    do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _other_method

    def _send_not_found_or_not_allowed(self, path: str) -> None:
        reply = self.server.receiver.answer_other(self.command, path)
        # The request may have a body we do not read: close the connection after answering.
        self._send(Reply(reply.status, reply.body, {**reply.headers, "Connection": "close"}))

    def _read_body(self) -> bytes | None:
        """The raw body, or ``None`` after answering an error (the connection is then closed)."""
        close = {"Connection": "close"}
        if "Transfer-Encoding" in self.headers:
            self._send(Reply(411, {"error": "send the body with a Content-Length"}, close))
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            self._send(Reply(411, {"error": "Content-Length is required"}, close))
            return None
        raw = lengths[0].strip()
        if len(lengths) != 1 or not (raw.isascii() and raw.isdigit()):
            self._send(Reply(400, {"error": "invalid Content-Length"}, close))
            return None
        length = int(raw)
        if length > self.server.receiver.max_body_bytes:
            self._send(Reply(413, {"error": "body too large"}, close))
            return None
        body = self.rfile.read(length)
        if len(body) != length:  # the client went away mid-body
            self.close_connection = True
            return None
        return body

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        if reply.status in (204, 304) or reply.status < 200:  # these never carry a body
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        payload = json.dumps(dict(reply.body)).encode("utf-8")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        # The request line and status only, at DEBUG: no per-request noise, no headers.
        _log.debug("%s - " + format, self.address_string(), *args)


# -- command line -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m punctual_conformance.reference_receiver",
        description="Run the Punctual reference webhook receiver. The webhook secret is read "
        f"from the environment variable {SECRET_ENV}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8443, help="port (default 8443; 0: any)")
    parser.add_argument(
        "--plain-http", action="store_true", help="serve plain HTTP (development only)"
    )
    parser.add_argument("--db", type=Path, help="SQLite dedupe store (default: a temporary file)")
    args = parser.parse_args(argv)

    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        print(
            f"error: set the webhook secret in the environment variable {SECRET_ENV}",
            file=sys.stderr,
        )
        return 2

    receiver = ReferenceReceiver(
        secret, host=args.host, port=args.port, plain_http=args.plain_http, db_path=args.db
    )
    try:
        receiver.start()
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"webhook URL:  {receiver.url}")
    print(f"observer URL: {receiver.observer_url}")
    print(f"CA bundle:    {receiver.ca_bundle or '(none: plain HTTP)'}")
    print("Ctrl-C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
