"""Misbehaving endpoints on 127.0.0.1 for the suite's robustness tests (test_bad_targets.py).

Every target is a :class:`RawTarget`: a listening socket whose accept loop and connections each
run in a thread the target owns; :meth:`RawTarget.stop` closes everything and joins every
thread, and :attr:`RawTarget.leftover_threads` says whether any is still alive (it should not).
A target may speak TLS (``tls=`` a server context; the handshake happens in the connection's
thread) and answers HTTP/1.1 with a deliberately tiny parser: these are bad servers, not good
ones.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "CLEAN_EXIT_S",
    "AnswersEverything",
    "RawTarget",
    "RedirectsElsewhere",
    "Request",
    "SilentAfterHandshake",
    "SilentTcp",
    "SpeaksPlainHttp",
    "TricklesBody",
    "refused_port",
]

CLEAN_EXIT_S = 5.0  # how long stop() waits for each thread
_MAX_HEAD = 64 * 1024


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class RawTarget:
    """A TCP (or TLS) listener on 127.0.0.1; :meth:`serve` handles each connection."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.stopping = threading.Event()
        self.connections_accepted = 0
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> RawTarget:
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.05)
        self._listener = listener
        self._spawn(self._accept_loop, "accept")
        return self

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        for thread in self._all_threads():
            thread.join(CLEAN_EXIT_S)
        if self._listener is not None:
            self._listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> RawTarget:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def leftover_threads(self) -> list[threading.Thread]:
        return [thread for thread in self._all_threads() if thread.is_alive()]

    @property
    def port(self) -> int:
        assert self._listener is not None
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/webhook") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    # -- plumbing -------------------------------------------------------------------------

    def _all_threads(self) -> list[threading.Thread]:
        with self._lock:
            return list(self._threads)

    def _spawn(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args,  # type: ignore[arg-type]
                                  name=f"{type(self).__name__}:{name}", daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections_accepted += 1
                self._sockets.append(conn)
            self._spawn(self._connection, "connection", conn)

    def _connection(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(0.2)
            sock: socket.socket = conn
            if self.tls is not None:
                conn.settimeout(5)
                sock = self.tls.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._sockets.append(sock)
                sock.settimeout(0.2)
            self.serve(sock)
        except (OSError, ValueError):
            pass  # the client went away, or stop() shut the socket
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    # -- helpers for serve() --------------------------------------------------------------

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; ``True`` once the target is stopping."""
        return self.stopping.wait(seconds)

    def requests_of(self, sock: socket.socket) -> Iterator[Request]:
        """The requests arriving on a keep-alive connection, until it closes or stop()."""
        buffer = b""
        while not self.stopping.is_set():
            while b"\r\n\r\n" not in buffer:
                chunk = self._recv(sock)
                if not chunk or len(buffer) > _MAX_HEAD:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, *_ = [*lines[0].split(" "), "", ""]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            while len(buffer) < length:
                chunk = self._recv(sock)
                if not chunk:
                    return
                buffer += chunk
            request = Request(method, path, headers, buffer[:length])
            buffer = buffer[length:]
            with self._lock:
                self.requests.append(request)
            yield request

    def _recv(self, sock: socket.socket) -> bytes:
        while not self.stopping.is_set():
            try:
                return sock.recv(65536)
            except TimeoutError:
                continue
        return b""

    def serve(self, sock: socket.socket) -> None:
        raise NotImplementedError


def _response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()),
             f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound once, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SilentTcp(RawTarget):
    """Accepts TCP connections and never says anything (not even a TLS handshake)."""

    def __init__(self) -> None:
        super().__init__(tls=None)

    def url(self, path: str = "/webhook") -> str:  # clients are told to speak TLS to it
        return f"https://127.0.0.1:{self.port}{path}"

    def serve(self, sock: socket.socket) -> None:
        self.wait(3600)


class SilentAfterHandshake(RawTarget):
    """Completes the TLS handshake, reads the request, and never answers it."""

    def serve(self, sock: socket.socket) -> None:
        for _ in self.requests_of(sock):
            self.wait(3600)
            return


class SpeaksPlainHttp(RawTarget):
    """A plain-HTTP server on the port a client was told speaks TLS: it answers the TLS
    ClientHello with an HTTP 400 and closes (the client's handshake fails at once)."""

    def __init__(self) -> None:
        super().__init__(tls=None)

    def url(self, path: str = "/webhook") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def serve(self, sock: socket.socket) -> None:
        if self._recv(sock):
            sock.sendall(_response("400 Bad Request", {"Connection": "close"}))


class TricklesBody(RawTarget):
    """Answers ``200`` with a huge Content-Length, then trickles the body a byte at a time."""

    interval_s = 0.05

    def serve(self, sock: socket.socket) -> None:
        for _ in self.requests_of(sock):
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100000000\r\n\r\n{")
            while not self.wait(self.interval_s):
                sock.sendall(b" ")
            return


class RedirectsElsewhere(RawTarget):
    """Answers every request ``307`` to ``location`` (which must never be contacted)."""

    def __init__(self, location: str, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.location = location

    def serve(self, sock: socket.socket) -> None:
        for _ in self.requests_of(sock):
            sock.sendall(_response("307 Temporary Redirect", {"Location": self.location}))


class AnswersEverything(RawTarget):
    """Answers every request with one fixed status and JSON body (e.g. behind a bad cert)."""

    def __init__(self, status: str = "200 OK", body: bytes = b'{"received": true}', *,
                 tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.status, self.body = status, body

    def serve(self, sock: socket.socket) -> None:
        for _ in self.requests_of(sock):
            sock.sendall(_response(self.status, {"Content-Type": "application/json"},
                                   self.body))
