"""The threaded HTTP(S) server under the reference receiver and the capture server.

What both need from a server that misbehaving peers talk to: the TLS handshake happens in
the connection's own thread under a timeout, never in the accepting thread (a client that
connects and stays silent blocks nobody); every connection has a read timeout; Nagle is off
(TCP_NODELAY: no 40 ms stalls on loopback); a listen backlog that takes bursts; no reverse
DNS lookup at bind time; and every open connection is tracked, so that ``stop`` can cut them
(``abort_connections``) instead of waiting for idle keep-alive clients.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["TlsThreadingServer"]


class TlsThreadingServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the connection threads
    block_on_close = True
    request_queue_size = 128  # the listen backlog (socketserver's default of 5 drops bursts)

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        tls: ssl.SSLContext | None,
        *,
        handshake_timeout: float,
        read_timeout: float,
        bind_and_activate: bool = True,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.tls = tls
        self.handshake_timeout = handshake_timeout
        self.read_timeout = read_timeout
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler, bind_and_activate)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        # Runs in the accepting thread: no blocking work here, in particular no TLS handshake.
        sock, address = self.socket.accept()
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        except BaseException:
            sock.close()
            raise
        with self._connections_lock:
            self._connections.add(sock)
        return sock, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the connection's own thread.
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(self.handshake_timeout)
            try:
                request.do_handshake()
            except (OSError, ValueError) as error:  # SSLError, timeout, reset, closed by stop
                self.handshake_failed(error)
                return
        request.settimeout(self.read_timeout)
        super().finish_request(request, client_address)

    def handshake_failed(self, error: BaseException) -> None:
        """A client's TLS handshake failed (the connection is then closed)."""

    def forget_connection(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)

    def shutdown_request(self, request: Any) -> None:
        self.forget_connection(request)
        super().shutdown_request(request)

    def abort_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for sock in connections:
            # The plain-socket shutdown: SSLSocket.shutdown would drop its TLS state under the
            # feet of the thread that is using it.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
