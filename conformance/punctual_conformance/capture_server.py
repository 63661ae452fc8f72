"""The suite's capture server for sender mode: a scriptable HTTPS endpoint that records every
request a sender makes, with the monotonic time it arrived.

Each scenario gets its own :class:`Route` (a path of its own) with a *script*: the action for
the 1st, 2nd, … request to that path; the last action repeats::

    with CaptureServer(ca.server_context()) as server:
        route = server.add_route("/hooks/backoff", [respond(500), respond(500), respond(200)])
        url = server.url(route, query="scenario=backoff")
        ...  # run the sender against url
        for capture in route.captures: print(capture.index, capture.arrived, capture.answer)

Actions: :func:`respond` (any status), :func:`redirect` (3xx with a ``Location`` on this server,
whose route records anything that follows it), :data:`HOLD` (no answer until the route is
released, the server stops, or ``hold_s`` passes; when the client closes the connection
first, that moment is recorded), :data:`RESET` (read the whole request, then close the TCP
connection with an RST). A *refusing* start is :class:`CaptureServer` with
``listen_later=True``: its port is bound but not listening (connections are refused by the
kernel) until :meth:`CaptureServer.begin_listening`.

Timing: one thread per connection (a held answer never delays the next arrival); the TLS
handshake runs in the connection's thread; ``TCP_NODELAY`` on every accepted socket; a
request's ``arrived`` is ``time.monotonic()`` taken the moment its request line has been read,
before the headers and body. The error of these times is measured by
:func:`measure_timing_error` (a client sending at known times) and reported by the suite.
Every wait is bounded and :meth:`CaptureServer.stop` joins every thread.

Memory is bounded against a sender that floods the server: a body is kept up to
:data:`MAX_BODY` bytes (the rest is read and dropped), a request line and each header line
up to 64 KiB, and a route records its first :data:`MAX_CAPTURES` requests, while the
bodies the server keeps stay under :data:`MAX_KEPT_BODY_BYTES` in all; later requests are
answered by the script as usual and counted (:attr:`Route.received`), not recorded.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import statistics
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from punctual_conformance.tls_server import TlsThreadingServer

__all__ = [
    "HOLD",
    "RESET",
    "Action",
    "Capture",
    "CaptureServer",
    "Route",
    "TimingError",
    "measure_timing_error",
    "redirect",
    "respond",
]

MAX_BODY = 1024 * 1024  # bytes of a request body kept (more is read and dropped)
MAX_CAPTURES = 1000  # requests recorded per route (more are answered and counted only)
MAX_KEPT_BODY_BYTES = 64 * 1024 * 1024  # bytes of bodies one server keeps in all
HANDSHAKE_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
LOCATION_PREFIX = "/__location__"


@dataclass(frozen=True)
class Action:
    """What the server does with one request: ``respond``, ``redirect``, ``hold`` or ``reset``."""

    kind: str
    status: int | None = None
    hold_s: float | None = None  # hold: None = until released or stopped

    def describe(self) -> str:
        if self.kind in ("respond", "redirect"):
            return str(self.status)
        if self.kind == "hold":
            return "held (no answer)"
        return "connection reset"


def respond(status: int) -> Action:
    return Action("respond", status)


def redirect(status: int = 307) -> Action:
    """A redirect to this route's ``Location`` twin (a route that records and answers 200)."""
    if not 300 <= status < 400:
        raise ValueError("a redirect status is 3xx")
    return Action("redirect", status)


HOLD = Action("hold")
RESET = Action("reset")


@dataclass
class Capture:
    """One request received on a route."""

    index: int  # 1-based: the n-th request to this route
    connected: float  # monotonic: the connection was accepted
    arrived: float  # monotonic: the request line had been read
    method: str
    target: str  # the raw request target: path and query string as sent
    headers: list[tuple[str, str]]
    body: bytes
    body_size: int
    action: Action
    answered: float | None = None  # monotonic: answer written, reset sent or hold ended
    client_closed: float | None = None  # monotonic: the client hung up during a hold
    note: str = ""

    @property
    def status(self) -> int | None:
        """The status the server answered (``None`` for a hold or a reset)."""
        return self.action.status if self.action.kind in ("respond", "redirect") else None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class Route:
    """A path on the server, its script, and what arrived on it."""

    def __init__(self, path: str, script: Sequence[Action]) -> None:
        if not script:
            raise ValueError("a script needs at least one action")
        self.path = path
        self.script = tuple(script)
        self.captures: list[Capture] = []  # the first MAX_CAPTURES, in arrival order
        self.received = 0  # every request to this route, recorded or not
        self.released = threading.Event()
        self._lock = threading.Lock()

    def _next(self) -> tuple[int, Action]:
        """The request's 1-based index (unique, also under concurrent requests) and action."""
        with self._lock:
            self.received += 1
            index = self.received
            return index, self.script[min(index, len(self.script)) - 1]

    def _record(self, capture: Capture) -> None:
        with self._lock:
            if capture.index <= MAX_CAPTURES:
                self.captures.append(capture)

    @property
    def unrecorded(self) -> int:
        """Requests answered but not recorded (beyond :data:`MAX_CAPTURES`)."""
        with self._lock:
            return self.received - len(self.captures)

    def snapshot(self) -> list[Capture]:
        """The recorded requests, ordered by index."""
        with self._lock:
            return sorted(self.captures, key=lambda capture: capture.index)

    def release(self) -> None:
        """End every hold on this route now (the connections are closed without an answer)."""
        self.released.set()

    def first_acknowledged(self) -> Capture | None:
        return next((c for c in self.snapshot() if c.acknowledged), None)

    def __repr__(self) -> str:
        return f"<Route {self.path} {len(self.captures)} capture(s)>"


@dataclass
class Rejected:
    """A connection that never became a request: failed handshake, or bytes that are not HTTP."""

    at: float
    reason: str


class CaptureServer:
    """Threaded HTTP(S) server on 127.0.0.1 recording requests per :class:`Route`.

    ``tls=None`` serves plain HTTP (the SND-TLS-01 listener). ``listen_later=True`` binds the
    port but refuses connections until :meth:`begin_listening`.
    """

    def __init__(self, tls: ssl.SSLContext | None, *, host: str = "127.0.0.1",
                 listen_later: bool = False) -> None:
        self.tls = tls
        self.host = host
        self.routes: dict[str, Route] = {}
        self.unrouted: list[Capture] = []
        self.rejected: list[Rejected] = []
        self.connections = 0
        self._kept_body_bytes = 0
        self._budget_spent = False  # once spent, nothing more is kept (recorded = a prefix)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server((host, 0), self)
        self._thread: threading.Thread | None = None
        self._listening = False
        self._stopped = False
        if not listen_later:
            self.begin_listening()

    # -- lifecycle -----------------------------------------------------------------------

    def begin_listening(self) -> None:
        """Listen and serve (a no-op when already listening or stopped)."""
        with self._lock:
            if self._listening or self._stopped:
                return
            self._listening = True
            self._server.server_activate()
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"punctual-capture:{self.port}", daemon=True)
            self._thread.start()

    @property
    def listening(self) -> bool:
        return self._listening

    def stop(self) -> None:
        """Release holds, close every connection, join every thread. Idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
        self._stopping.set()
        if thread is not None:
            self._server.shutdown()
        self._server.abort_connections()
        self._server.server_close()  # joins the connection threads
        if thread is not None:
            thread.join(timeout=10)

    def __enter__(self) -> CaptureServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- routes --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://{self.host}:{self.port}"

    def add_route(self, path: str, script: Sequence[Action]) -> Route:
        if not path.startswith("/") or "?" in path:
            raise ValueError("a route path starts with / and has no query string")
        route = Route(path, script)
        location = Route(LOCATION_PREFIX + path, [respond(200)])
        with self._lock:
            if path in self.routes:
                raise ValueError(f"route {path} exists")
            self.routes[path] = route
            self.routes[location.path] = location
        return route

    def location_route(self, route: Route) -> Route:
        """The route a redirect of ``route`` points to (it should receive nothing)."""
        return self.routes[LOCATION_PREFIX + route.path]

    def url(self, route: Route, query: str = "") -> str:
        return self.base_url + route.path + (f"?{query}" if query else "")

    def route_for(self, target: str) -> Route | None:
        with self._lock:
            return self.routes.get(urlsplit(target).path)

    def all_captures(self) -> list[Capture]:
        with self._lock:
            routes = list(self.routes.values())
            unrouted = list(self.unrouted)
        return [c for r in routes for c in r.snapshot()] + unrouted

    def _reject(self, reason: str) -> None:
        with self._lock:
            if len(self.rejected) < 200:
                self.rejected.append(Rejected(time.monotonic(), reason))

    def _count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def _unrouted(self, capture: Capture) -> None:
        if not self._keep_body(len(capture.body)):
            return
        with self._lock:
            if len(self.unrouted) < 200:
                self.unrouted.append(capture)

    def _keep_body(self, size: int) -> bool:
        """Whether a body of ``size`` bytes still fits the server's budget (then counted)."""
        with self._lock:
            if self._budget_spent or self._kept_body_bytes + size > MAX_KEPT_BODY_BYTES:
                self._budget_spent = True
                return False
            self._kept_body_bytes += size
            return True


class _Server(TlsThreadingServer):
    def __init__(self, address: tuple[str, int], owner: CaptureServer) -> None:
        self.owner = owner
        self._resets: set[int] = set()
        # Bound now, listening only on server_activate(): "refuse connections at first".
        super().__init__(address, _Handler, owner.tls, handshake_timeout=HANDSHAKE_TIMEOUT,
                         read_timeout=READ_TIMEOUT, bind_and_activate=False)
        try:
            self.server_bind()
        except BaseException:
            self.server_close()
            raise

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        self.owner._count_connection()
        return sock, (address, time.monotonic())

    def handshake_failed(self, error: BaseException) -> None:
        self.owner._reject(f"TLS handshake failed: {error}")

    def mark_reset(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._resets.add(id(sock))

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            reset = id(request) in self._resets
            self._resets.discard(id(request))
        if not reset:
            super().shutdown_request(request)
            return
        self.forget_connection(request)
        with contextlib.suppress(OSError):
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        socket.socket.close(request)  # no FIN, no TLS close_notify: an RST

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender resetting or stalling a connection is data, not a suite error


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "punctual-capture"
    server: _Server
    client_address: Any

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            arrived = time.monotonic()
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > 65536 or not self.parse_request():
                self.server.owner._reject(
                    f"not an HTTP request: {self.raw_requestline[:60]!r}")
                self.close_connection = True
                return
            self._capture(arrived)
            self.wfile.flush()
        except (TimeoutError, OSError, ValueError):
            self.close_connection = True

    def _read_body(self) -> tuple[bytes, int, str]:
        lengths = self.headers.get_all("Content-Length") or []
        if "Transfer-Encoding" in self.headers:
            return b"", 0, "chunked bodies are not read by the capture server"
        if len(lengths) != 1 or not lengths[0].strip().isdigit():
            return b"", 0, "" if not lengths else "invalid Content-Length"
        length = int(lengths[0].strip())
        kept = self.rfile.read(min(length, MAX_BODY))
        remaining = length - len(kept)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)
        note = "" if remaining <= 0 and len(kept) == min(length, MAX_BODY) else "body incomplete"
        return kept, length - max(remaining, 0), note

    def _capture(self, arrived: float) -> None:
        owner = self.server.owner
        body, size, note = self._read_body()
        route = owner.route_for(self.path)
        _, connected = self.client_address
        headers = [(k, v) for k, v in self.headers.items()]
        if route is None:
            capture = Capture(0, connected, arrived, self.command, self.path, headers, body,
                              size, respond(404), note=note)
            owner._unrouted(capture)
            self._answer(404, capture)
            return
        index, action = route._next()
        capture = Capture(index, connected, arrived, self.command, self.path, headers, body,
                          size, action, note=note)
        if index <= MAX_CAPTURES and owner._keep_body(len(body)):
            route._record(capture)
        if action.kind == "respond":
            assert action.status is not None
            self._answer(action.status, capture)
        elif action.kind == "redirect":
            assert action.status is not None
            self._answer(action.status, capture,
                         {"Location": owner.base_url + LOCATION_PREFIX + route.path})
        elif action.kind == "reset":
            self.server.mark_reset(self.connection)
            self.close_connection = True
            capture.answered = time.monotonic()
        else:
            self._hold(route, action, capture)

    def _hold(self, route: Route, action: Action, capture: Capture) -> None:
        """No answer; watch for the client hanging up, end when released or stopped."""
        deadline = None if action.hold_s is None else time.monotonic() + action.hold_s
        stopping = self.server.owner._stopping
        self.connection.settimeout(0.02)
        while not (route.released.is_set() or stopping.is_set()):
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                data = self.connection.recv(1)
            except (TimeoutError, ssl.SSLWantReadError):
                continue
            except (OSError, ValueError):
                data = b""
            if not data:
                capture.client_closed = time.monotonic()
                break
        capture.answered = time.monotonic()
        self.close_connection = True

    def _answer(self, status: int, capture: Capture, extra: dict[str, str] | None = None) -> None:
        payload = b'{"received": true}' if 200 <= status < 300 else b'{"error": "scripted"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        capture.answered = time.monotonic()
        self.close_connection = True

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass


# -- timing error ------------------------------------------------------------------------


@dataclass(frozen=True)
class TimingError:
    """How far the recorded arrival times are from the moments requests were sent.

    ``offsets_ms``: arrival minus send time of each probe (one-way latency plus the server's
    own delay). The error of a *gap* between two arrivals is the difference of two offsets, so
    ``gap_error_ms`` (largest offset minus smallest) bounds it.
    """

    samples: int
    offsets_ms: list[float] = field(repr=False)

    @property
    def median_offset_ms(self) -> float:
        return statistics.median(self.offsets_ms) if self.offsets_ms else 0.0

    @property
    def gap_error_ms(self) -> float:
        return max(self.offsets_ms) - min(self.offsets_ms) if self.offsets_ms else 0.0

    @property
    def p95_gap_error_ms(self) -> float:
        if not self.offsets_ms:
            return 0.0
        deviations = sorted(abs(o - self.median_offset_ms) for o in self.offsets_ms)
        return 2 * deviations[min(len(deviations) - 1, int(len(deviations) * 0.95))]

    def as_facts(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "median_offset_ms": round(self.median_offset_ms, 3),
            "max_offset_ms": round(max(self.offsets_ms, default=0.0), 3),
            "gap_error_ms_max": round(self.gap_error_ms, 3),
            "gap_error_ms_p95": round(self.p95_gap_error_ms, 3),
        }


def measure_timing_error(server: CaptureServer, client_context: ssl.SSLContext | None, *,
                         samples: int = 20, spacing_s: float = 0.01,
                         timeout: float = 5.0) -> TimingError:
    """Send ``samples`` requests over fresh connections (as senders do), noting the monotonic
    time just before each request's bytes are written, and compare with the arrivals."""
    route = server.add_route(f"/__timing__/{time.monotonic_ns()}", [respond(204)])
    sent: list[float] = []
    for _ in range(samples):
        with socket.create_connection((server.host, server.port), timeout=timeout) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock: socket.socket = raw
            if client_context is not None:
                sock = client_context.wrap_socket(raw, server_hostname=server.host)
            request = (f"POST {route.path} HTTP/1.1\r\nHost: {server.host}\r\n"
                       "Content-Length: 2\r\nConnection: close\r\n\r\n{}").encode("ascii")
            sent.append(time.monotonic())
            sock.sendall(request)
            while sock.recv(4096):
                pass
            if sock is not raw:
                sock.close()
        time.sleep(spacing_s)
    captures = route.snapshot()
    offsets = [(c.arrived - sent[c.index - 1]) * 1000 for c in captures
               if 0 < c.index <= len(sent)]
    return TimingError(samples=len(offsets), offsets_ms=offsets)
