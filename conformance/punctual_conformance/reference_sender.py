"""The reference Punctual webhook sender: the model a platform team should copy.

Standard library only. What it guarantees, and where:

* **Exact bytes, signed.** An event is serialized once when it is queued; those bytes are
  stored in the history and are what is sent and signed (HMAC-SHA256, lowercase hex, header
  ``Punctual-Signature``) on every attempt, also after a restart. Same id, same bytes.
* **HTTPS only.** An ``http://`` (or any non-``https``) URL is refused when the event is
  queued, before any connection (command line: exit 2).
* **Certificates verified** against the system store, ``SSL_CERT_FILE`` and
  ``PUNCTUAL_CA_BUNDLE`` / ``--ca-bundle``; host names checked; TLS 1.2 at least.
* **No private targets.** The host is resolved before every attempt and the connection goes
  to the address that was checked (no second lookup a DNS rebinding could exploit). Loopback,
  private, link-local, unspecified, multicast and reserved addresses are refused unless
  allowed (``--allow-loopback`` for loopback, ``--allow-private`` for private and link-local;
  the suite's tests allow loopback only).
* **Redirects are never followed** (``http.client`` does not follow them): a 3xx is a failed
  attempt like any other non-2xx.
* **Per-attempt timeout**: a watchdog closes the connection when the whole attempt (connect,
  TLS, request, response) exceeds it; each socket operation has the same timeout.
* **Exponential backoff with bounded jitter, bounded attempts, then a final failure**
  (:class:`Schedule`).
* **Durable history** (:mod:`punctual_conformance.sender_history`): every event, every attempt
  with its time, status code, duration and error, and the delivery state. A sender killed in
  the middle of its retries resumes its pending deliveries when it starts again, so none is
  lost; an attempt cut off by the crash is kept as ``interrupted``.

Default schedule (decision; the product page only says "exponential backoff"): the first
retry 60 s after the first attempt, each further delay twice the one before, every delay
multiplied by a uniform random factor in [0.9, 1.1] (bounded jitter ±10 %), at most 12
attempts: retries after about 1, 2, 4, 8 … 1024 minutes, about 34 hours in all, then the
event is finally ``failed``. Attempt timeout 10 s (the suite's default ack deadline).
``PUNCTUAL_TIME_SCALE`` multiplies every delay and the timeout (the timeout never below
1 s, so that a TLS handshake still fits on a loaded machine).

Command line (the secret comes from ``PUNCTUAL_WEBHOOK_SECRET``, never from an argument)::

    python -m punctual_conformance.reference_sender send --url URL --event-file F \\
        [--db PATH] [--allow-loopback] [--allow-private] [--ca-bundle PEM]
    python -m punctual_conformance.reference_sender resume [--db PATH] [...]
    python -m punctual_conformance.reference_sender history [--db PATH] [--json]

``send`` first resumes every unsettled delivery in the database, queues the event (its
``id`` is kept when it is an ``evt_`` id, so sending the same file twice queues it once) and
delivers until every delivery is settled. ``--url`` and ``--event-file`` default to
``PUNCTUAL_ENDPOINT_URL`` and ``PUNCTUAL_EVENT_FILE``, ``--db`` to ``PUNCTUAL_SENDER_DB`` or
``punctual-sender.sqlite3``. It prints its schedule as one JSON line, then one JSON line per
attempt (``{"attempt": 1, "status": "failed", "response_code": 500, "at": "…"}``, with
``"final": true`` on the last line of a delivery that is given up). Exit 0: delivered;
1: gave up; 2: endpoint refused; 75: stopped by a signal (the delivery stays pending).

Building a deliberately flawed sender (for the suite's own tests): subclass
:class:`ReferenceSender` and override one method: ``check_endpoint``, ``prepare_event``,
``serialize``, ``body_for_attempt``, ``sign``, ``headers``, ``request_target``,
``ssl_context``, ``attempt_timeout``, ``connection``, ``post``, ``should_retry``,
``next_delay``, ``record_attempt`` or ``deliver``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import ipaddress
import json
import os
import random
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import SplitResult, urlsplit

from punctual_conformance.sender_history import Delivery, SenderHistory, rfc3339
from punctual_conformance.signing import SIGNATURE_HEADER, sign

__all__ = [
    "DEFAULT_SCHEDULE",
    "AttemptResult",
    "EndpointRefused",
    "ReferenceSender",
    "Schedule",
    "deliver_job",
    "main",
]

SECRET_ENV = "PUNCTUAL_WEBHOOK_SECRET"  # noqa: S105 (a variable name)
DB_ENV = "PUNCTUAL_SENDER_DB"
DEFAULT_DB = "punctual-sender.sqlite3"
EXIT_DELIVERED, EXIT_GAVE_UP, EXIT_REFUSED, EXIT_STOPPED = 0, 1, 2, 75
RESPONSE_READ_CAP = 64 * 1024
USER_AGENT = "punctual-reference-sender/0.1"

_random = random.SystemRandom()


@dataclass(frozen=True)
class Schedule:
    """The retry schedule, in unscaled seconds."""

    first_delay_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.1
    max_attempts: int = 12
    timeout_s: float = 10.0
    min_timeout_s: float = 1.0

    def nominal_delay(self, attempts_made: int) -> float:
        """The delay after attempt ``attempts_made`` (1-based), before jitter and scaling."""
        return self.first_delay_s * self.factor ** (attempts_made - 1)

    def declaration(self) -> dict[str, Any]:
        """The JSON line that declares this schedule to the conformance suite."""
        own = asdict(self)
        own.pop("min_timeout_s")
        return {"schedule": own}


DEFAULT_SCHEDULE = Schedule()


class EndpointRefused(Exception):
    """The endpoint is not one this sender delivers to (not https, private address …)."""


@dataclass(frozen=True)
class AttemptResult:
    response_code: int | None
    error: str | None
    duration_ms: float
    timed_out: bool = False
    location: str | None = None


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an already checked address, with SNI and certificate check for the host."""

    def __init__(self, host: str, port: int, address: str, *, context: ssl.SSLContext,
                 timeout: float | None) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise

    def abort(self) -> None:
        """From the watchdog thread: make any blocked read or write return now."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class ReferenceSender:
    """Delivers queued events from a :class:`SenderHistory`; one attempt at a time."""

    def __init__(
        self,
        secret: str,
        history: SenderHistory,
        *,
        schedule: Schedule = DEFAULT_SCHEDULE,
        time_scale: float = 1.0,
        allow_loopback: bool = False,
        allow_private: bool = False,
        ca_bundle: Path | None = None,
        report: Callable[[Mapping[str, Any]], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if not secret:
            raise ValueError("the webhook secret must be a non-empty string")
        if not time_scale > 0:
            raise ValueError("the time scale must be greater than 0")
        self._secret = secret
        self.history = history
        self.schedule = schedule
        self.time_scale = time_scale
        self.allow_loopback = allow_loopback
        self.allow_private = allow_private
        self.ca_bundle = ca_bundle
        self.report = report or (lambda line: None)
        self.stop = stop or threading.Event()

    def __repr__(self) -> str:
        return f"<ReferenceSender db={self.history.path} scale={self.time_scale:g}>"

    # -- queueing --------------------------------------------------------------------------

    def enqueue(self, url: str, envelope: Mapping[str, Any]) -> str:
        """Check the endpoint, fix the event's bytes once and queue it; returns the id."""
        self.check_endpoint(url)
        parts = urlsplit(url)
        assert parts.hostname is not None
        self.resolve(parts.hostname, parts.port or 443)
        event = self.prepare_event(envelope)
        body = self.serialize(event)
        self.history.enqueue(str(event["id"]), str(event["type"]), url, body)
        return str(event["id"])

    def check_endpoint(self, url: str) -> None:
        """HTTPS only, with a host; raises :class:`EndpointRefused` before any connection."""
        parts = urlsplit(url)
        if parts.scheme != "https":
            raise EndpointRefused(
                f"refusing {parts.scheme or 'a scheme-less'}:// endpoint: Punctual delivers "
                "over HTTPS only")
        if not parts.hostname:
            raise EndpointRefused("the endpoint URL has no host")

    def prepare_event(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """Keep an ``evt_`` id and the ``created`` time; otherwise assign them."""
        event = dict(envelope)
        if not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict):
            raise ValueError("an event needs a string 'type' and an object 'data'")
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(
                event_id) < 5:
            event["id"] = "evt_" + os.urandom(16).hex()
        if not isinstance(event.get("created"), str):
            event["created"] = rfc3339(time.time())[:19] + "Z"
        return event

    def serialize(self, event: Mapping[str, Any]) -> bytes:
        """Compact UTF-8 JSON, done once per event."""
        return json.dumps(event, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")

    # -- one attempt -----------------------------------------------------------------------

    def body_for_attempt(self, delivery: Delivery, number: int) -> bytes:
        """The bytes of attempt ``number``: always the stored ones."""
        return delivery.body

    def sign(self, body: bytes) -> str:
        return sign(self._secret, body)

    def headers(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: self.sign(body),
            "User-Agent": USER_AGENT,
        }

    def request_target(self, parts: SplitResult) -> str:
        """Path and query string exactly as in the endpoint URL."""
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()  # honours SSL_CERT_FILE
        if self.ca_bundle is not None:
            context.load_verify_locations(cafile=str(self.ca_bundle))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def attempt_timeout(self) -> float | None:
        s = self.schedule
        return min(s.timeout_s, max(s.timeout_s * self.time_scale, s.min_timeout_s))

    def resolve(self, host: str, port: int) -> str:
        """The first address of ``host`` this sender may connect to."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise EndpointRefused(f"cannot resolve {host}: {error}") from None
        refusals = []
        for info in infos:
            address = str(info[4][0])
            reason = self._address_refusal(address)
            if reason is None:
                return address
            refusals.append(f"{address} ({reason})")
        raise EndpointRefused(f"{host} resolves only to refused addresses: "
                              + ", ".join(refusals))

    def _address_refusal(self, address: str) -> str | None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            return None if self.allow_loopback else "loopback; pass --allow-loopback"
        if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
            return "not a unicast address"
        if ip.is_link_local or ip.is_private or not ip.is_global:
            return None if self.allow_private else "private or link-local; --allow-private"
        return None

    def connection(self, parts: SplitResult, address: str,
                   timeout: float | None) -> http.client.HTTPConnection:
        assert parts.hostname is not None
        return _PinnedHTTPSConnection(parts.hostname, parts.port or 443, address,
                                      context=self.ssl_context(), timeout=timeout)

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        """One HTTP attempt, bounded by :meth:`attempt_timeout`; never raises."""
        started = time.monotonic()
        timeout = self.attempt_timeout()

        def done(code: int | None = None, error: str | None = None, timed_out: bool = False,
                 location: str | None = None) -> AttemptResult:
            return AttemptResult(code, error, (time.monotonic() - started) * 1000,
                                 timed_out, location)

        try:
            self.check_endpoint(url)
            parts = urlsplit(url)
            assert parts.hostname is not None
            address = self.resolve(parts.hostname, parts.port or 443)
        except EndpointRefused as refused:
            return done(error=str(refused))
        connection = self.connection(parts, address, timeout)
        fired = threading.Event()

        def watchdog() -> None:
            fired.set()
            abort = getattr(connection, "abort", None)
            if abort is not None:
                abort()

        timer = threading.Timer(timeout, watchdog) if timeout is not None else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            connection.request("POST", self.request_target(parts), body=body,
                               headers=dict(headers))
            response = connection.getresponse()
            response.read(RESPONSE_READ_CAP)
            return done(response.status, location=response.getheader("Location"))
        except (OSError, http.client.HTTPException, ValueError) as error:
            if fired.is_set() or isinstance(error, TimeoutError):
                return done(error=f"no response within {timeout:g} s", timed_out=True)
            return done(error=_describe(error))
        finally:
            if timer is not None:
                timer.cancel()
                timer.join(timeout=1)
            connection.close()

    # -- the retry policy ------------------------------------------------------------------

    def is_success(self, result: AttemptResult) -> bool:
        return result.response_code is not None and 200 <= result.response_code < 300

    def should_retry(self, result: AttemptResult, attempts_made: int) -> bool:
        """Every failure is retried (any non-2xx, timeouts, connection errors) while
        attempts remain."""
        return attempts_made < self.schedule.max_attempts

    def next_delay(self, attempts_made: int) -> float:
        """Seconds until the next attempt: exponential, bounded jitter, scaled."""
        s = self.schedule
        jitter = _random.uniform(1 - s.jitter, 1 + s.jitter)
        return s.nominal_delay(attempts_made) * jitter * self.time_scale

    def record_attempt(self, delivery: Delivery, number: int, result: AttemptResult,
                       delivered: bool, next_attempt_at: float | None) -> None:
        self.history.finish_attempt(
            delivery.event_id, number, response_code=result.response_code,
            error=result.error, duration_ms=result.duration_ms, delivered=delivered,
            next_attempt_at=next_attempt_at)

    # -- the delivery loop -----------------------------------------------------------------

    def run_attempt(self, delivery: Delivery) -> bool | None:
        """Claim, make, record and report the next attempt; ``None`` if not claimed."""
        timeout = self.attempt_timeout() or 60.0
        number = self.history.begin_attempt(delivery.event_id, lease_s=timeout + 1.0)
        if number is None:
            return None
        body = self.body_for_attempt(delivery, number)
        result = self.post(delivery.url, body, self.headers(body))
        delivered = self.is_success(result)
        next_at = None
        if not delivered and self.should_retry(result, number):
            next_at = time.time() + self.next_delay(number)
        self.record_attempt(delivery, number, result, delivered, next_at)
        record = self.history.attempts(delivery.event_id)[number - 1]
        settled = self.history.get(delivery.event_id)
        self.report(record.as_line(delivery_final=bool(settled and settled.final)))
        return delivered

    def deliver(self, event_id: str) -> Delivery | None:
        """Attempt ``event_id`` until it is settled (or :attr:`stop` is set)."""
        while not self.stop.is_set():
            delivery = self.history.get(event_id)
            if delivery is None or delivery.settled:
                return delivery
            self._attempt_when_due(delivery)
        return self.history.get(event_id)

    def settle_all(self) -> None:
        """Deliver every unsettled delivery in the history, the earliest due first."""
        while not self.stop.is_set():
            unsettled = self.history.unsettled()
            if not unsettled:
                return
            self._attempt_when_due(unsettled[0])

    def _attempt_when_due(self, delivery: Delivery) -> None:
        """Sleep until the delivery is due (and not leased by another process), then make
        its next attempt; return early when stopped or after an hour of sleep."""
        now = time.time()
        due = delivery.next_attempt_at or now
        if delivery.lease_until is not None and delivery.lease_until > now:
            due = max(due, delivery.lease_until)
        if due > now and self.stop.wait(min(due - now, 3600.0)):
            return
        if time.time() < due - 0.001:
            return  # the one-hour cap: the caller looks again
        fresh = self.history.get(delivery.event_id)
        if fresh is not None and not fresh.settled:
            self.run_attempt(fresh)


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ConnectionResetError):
        return "connection reset"
    if isinstance(error, http.client.RemoteDisconnected):
        return "connection closed without a response"
    return f"{type(error).__name__}: {error}"


# -- entry points --------------------------------------------------------------------------


def _time_scale(environ: Mapping[str, str]) -> float:
    raw = environ.get("PUNCTUAL_TIME_SCALE", "")
    if not raw:
        return 1.0
    scale = float(raw)
    if not scale > 0:
        raise ValueError("PUNCTUAL_TIME_SCALE must be greater than 0")
    return scale


def _print_line(line: Mapping[str, Any]) -> None:
    print(json.dumps(line), flush=True)


def send_event(
    sender_class: type[ReferenceSender],
    *,
    secret: str,
    url: str,
    envelope: Mapping[str, Any],
    db_path: Path,
    time_scale: float = 1.0,
    allow_loopback: bool = False,
    allow_private: bool = False,
    ca_bundle: Path | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Resume, queue ``envelope`` and deliver; the exit code of the command line."""
    with SenderHistory(db_path) as history:
        sender = sender_class(secret, history, time_scale=time_scale,
                              allow_loopback=allow_loopback, allow_private=allow_private,
                              ca_bundle=ca_bundle, report=_print_line, stop=stop)
        history.recover_interrupted()
        try:
            event_id = sender.enqueue(url, envelope)
        except EndpointRefused as refused:
            print(f"refused: {refused}", file=sys.stderr)
            return EXIT_REFUSED
        _print_line(sender.schedule.declaration())
        sender.settle_all()
        sender.deliver(event_id)
        delivery = history.get(event_id)
        if delivery is not None and delivery.state.value == "delivered":
            return EXIT_DELIVERED
        if delivery is not None and delivery.final:
            print(f"gave up on {event_id} after {delivery.attempts} attempts", file=sys.stderr)
            return EXIT_GAVE_UP
        print(f"stopped: {event_id} stays pending and resumes on the next start",
              file=sys.stderr)
        return EXIT_STOPPED


def deliver_job(job: Any, sender_class: type[ReferenceSender] = ReferenceSender) -> int:
    """The ``python:punctual_conformance.reference_sender:deliver_job`` form (a
    :class:`~punctual_conformance.sender_command.SenderJob`); loopback is allowed, the
    history goes to ``PUNCTUAL_SENDER_DB`` or a temporary directory."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="punctual-sender-") as workdir:
        db = Path(os.environ.get(DB_ENV) or Path(workdir) / "history.sqlite3")
        return send_event(sender_class, secret=job.secret, url=job.endpoint_url,
                          envelope=job.event, db_path=db, time_scale=job.time_scale,
                          allow_loopback=True, ca_bundle=job.ca_bundle)


def _history_command(db: Path, as_json: bool) -> int:
    if not db.exists():
        print(f"no history at {db}", file=sys.stderr)
        return 1
    with SenderHistory(db) as history:
        deliveries = history.deliveries()
        if as_json:
            print(json.dumps([
                {
                    "event_id": d.event_id, "type": d.event_type, "url": d.url,
                    "state": d.state.value, "final": d.final, "attempts": [
                        {"number": a.number, "at": a.started_at, "response_code":
                         a.response_code, "duration_ms": a.duration_ms, "error": a.error,
                         "outcome": a.outcome} for a in history.attempts(d.event_id)],
                } for d in deliveries], indent=2))
            return 0
        for d in deliveries:
            print(f"{d.event_id}  {d.event_type}  {d.shown_state}  {d.url}")
            for a in history.attempts(d.event_id):
                code = a.response_code if a.response_code is not None else "-"
                took = f"{a.duration_ms:.0f} ms" if a.duration_ms is not None else "-"
                print(f"    #{a.number} {a.started_at} {a.outcome:<11} {code!s:>4} {took:>8}"
                      + (f"  {a.error}" if a.error else ""))
    return 0


def main(argv: list[str] | None = None,
         sender_class: type[ReferenceSender] = ReferenceSender) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m punctual_conformance.reference_sender",
        description="The Punctual reference webhook sender. The webhook secret is read from "
        f"the environment variable {SECRET_ENV}.")
    commands = parser.add_subparsers(dest="command", required=True)
    send = commands.add_parser("send", help="queue an event and deliver it")
    send.add_argument("--url", help="endpoint URL (default: $PUNCTUAL_ENDPOINT_URL)")
    send.add_argument("--event-file", type=Path,
                      help="JSON event envelope (default: $PUNCTUAL_EVENT_FILE)")
    resume = commands.add_parser("resume", help="deliver every pending delivery")
    for sub in (send, resume):
        sub.add_argument("--db", type=Path, help=f"history database (default: ${DB_ENV} "
                         f"or {DEFAULT_DB})")
        sub.add_argument("--allow-loopback", action="store_true",
                         help="allow endpoints on loopback addresses (tests)")
        sub.add_argument("--allow-private", action="store_true",
                         help="allow endpoints on private and link-local addresses")
        sub.add_argument("--ca-bundle", type=Path,
                         help="extra CA certificates (default: $PUNCTUAL_CA_BUNDLE)")
    history = commands.add_parser("history", help="list events, attempts and states")
    history.add_argument("--db", type=Path)
    history.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    db = args.db or Path(os.environ.get(DB_ENV) or DEFAULT_DB)
    if args.command == "history":
        return _history_command(db, args.json)

    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        print(f"error: set the webhook secret in {SECRET_ENV}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        scale = _time_scale(os.environ)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    ca = args.ca_bundle or (Path(os.environ["PUNCTUAL_CA_BUNDLE"])
                            if os.environ.get("PUNCTUAL_CA_BUNDLE") else None)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if args.command == "resume":
        with SenderHistory(db) as store:
            sender = sender_class(secret, store, time_scale=scale,
                                  allow_loopback=args.allow_loopback,
                                  allow_private=args.allow_private, ca_bundle=ca,
                                  report=_print_line, stop=stop)
            store.recover_interrupted()
            _print_line(sender.schedule.declaration())
            sender.settle_all()
            if stop.is_set():
                return EXIT_STOPPED
            return EXIT_GAVE_UP if any(d.final for d in store.deliveries()) else 0

    url = args.url or os.environ.get("PUNCTUAL_ENDPOINT_URL", "")
    event_file = args.event_file or (Path(os.environ["PUNCTUAL_EVENT_FILE"])
                                     if os.environ.get("PUNCTUAL_EVENT_FILE") else None)
    if not url or event_file is None:
        parser.error("send needs --url and --event-file (or their environment variables)")
    try:
        envelope = json.loads(event_file.read_text(encoding="utf-8"))
        if not isinstance(envelope, dict):
            raise ValueError("the event file must hold a JSON object")
    except (OSError, ValueError) as error:
        print(f"error: cannot read the event: {error}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        return send_event(sender_class, secret=secret, url=url, envelope=envelope,
                          db_path=db, time_scale=scale, allow_loopback=args.allow_loopback,
                          allow_private=args.allow_private, ca_bundle=ca, stop=stop)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
