"""An httpx transport whose requests have a total deadline, not only per-read timeouts.

httpx's timeouts apply to each network operation: a target that answers one byte per second
resets the read timeout with every byte and can hold a request for as long as it likes. Here
every read, write and TLS handshake of a request is clamped to what is left of that request's
deadline, so the whole request (headers and all) ends by it. The deadline is set per request
by the caller (:func:`total_deadline`), and is per thread, so concurrent requests keep their own.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
import typing
from collections.abc import Iterable, Iterator

import httpcore
import httpx

__all__ = ["DeadlineTransport", "total_deadline"]

_state = threading.local()


@contextlib.contextmanager
def total_deadline(seconds: float) -> Iterator[None]:
    """Requests made by this thread inside the block must finish within ``seconds``."""
    _state.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _state.deadline = None


def _clamp(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    ends: float | None = getattr(_state, "deadline", None)
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise timeout_error("the request's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, _clamp(timeout, httpcore.ConnectTimeout),
                                     local_address, socket_options)
        return _DeadlineStream(stream)


def _to_httpx(error: Exception) -> Exception:
    """httpcore's exceptions have httpx twins of the same name."""
    twin = getattr(httpx, type(error).__name__, None)
    if isinstance(twin, type) and issubclass(twin, httpx.TransportError):
        return twin(str(error))
    return error


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except httpcore.TimeoutException as error:
            raise _to_httpx(error) from error
        except (httpcore.NetworkError, httpcore.ProtocolError) as error:
            raise _to_httpx(error) from error

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """HTTP/1.1 over httpcore with per-request total deadlines (see the module docstring)."""

    def __init__(self, ssl_context: ssl.SSLContext, *, max_connections: int = 32) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=8,
            network_backend=_DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except (httpcore.TimeoutException, httpcore.NetworkError,
                httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
            raise _to_httpx(error) from error
        assert isinstance(response.stream, Iterable)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_ResponseStream(response.stream),
                              extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()
