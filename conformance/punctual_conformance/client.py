"""The suite's HTTP client towards a receiver under test.

Every request is bounded: connect, read and write timeouts, a total deadline for the body, a
cap on how much of a response is read, and redirects are never followed (senders don't follow
them, so neither does the suite). Errors become an ``Exchange`` with an ``error``; the client
never raises on a misbehaving target.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from punctual_conformance import __version__
from punctual_conformance.deadline_transport import DeadlineTransport, total_deadline
from punctual_conformance.evidence import Exchange, excerpt
from punctual_conformance.secret import Secret
from punctual_conformance.signing import SIGNATURE_HEADER, sign

__all__ = [
    "RESPONSE_READ_CAP",
    "SIGN",
    "TargetClient",
    "client_ssl_context",
    "describe_error",
    "read_capped",
]

RESPONSE_READ_CAP = 64 * 1024
ERROR_TEXT_LIMIT = 300
# After this many requests in a row got no answer in time, the rest are not sent: a target
# that never answers costs a few timeouts, not one per check.
UNANSWERED_LIMIT = 3
USER_AGENT = f"punctual-conformance/{__version__}"


class _Sign:
    """Marker: sign the body with the run's secret."""

    def __repr__(self) -> str:
        return "SIGN"


SIGN = _Sign()


def client_ssl_context(ca_bundle: Path | None, *, verify: bool = True) -> ssl.SSLContext:
    """The system trust store (honouring SSL_CERT_FILE), plus the given CA bundle."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe_error(error: BaseException, timeout: float) -> str:
    """A one-line, human explanation of a transport failure, at most ERROR_TEXT_LIMIT
    characters (an HTTP parser quotes the offending line whole: up to ~100 KiB of garbage,
    which would otherwise be copied into every row's reason and both reports)."""
    text = _describe_error(error, timeout)
    if len(text) <= ERROR_TEXT_LIMIT:
        return text
    return f"{text[:ERROR_TEXT_LIMIT]}… [{len(text) - ERROR_TEXT_LIMIT} more characters]"


def _describe_error(error: BaseException, timeout: float) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLEOFError) or \
                getattr(cause, "reason", None) == "UNEXPECTED_EOF_WHILE_READING":
            # The peer hung up mid-handshake: nothing was learnt about its certificate.
            return "connection closed by the target during the TLS handshake"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed: {cause.reason or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by the target"
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.ConnectTimeout):
        return f"could not connect within {timeout:g} s"
    if isinstance(error, httpx.TimeoutException):
        return f"timed out: no complete response within {timeout:g} s"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"not a valid HTTP response: {error}"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect: {error}"
    return f"{type(error).__name__}: {error}"


class TargetClient:
    """Sends deliveries to one endpoint and records each exchange in ``recorder``."""

    def __init__(
        self,
        url: str,
        secret: Secret,
        *,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._unanswered_in_a_row = 0
        self._secret = secret
        self.recorder: list[Exchange] = []
        self.history: list[Exchange] = []  # every exchange of the session
        self._client = httpx.Client(
            transport=DeadlineTransport(ssl_context or ssl.create_default_context()),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TargetClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def deliver(
        self,
        body: bytes,
        *,
        label: str,
        signature: str | _Sign | None = SIGN,
        event_id: str | None = None,
        valid: bool = False,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> Exchange:
        """POST ``body`` as a webhook delivery.

        ``signature=SIGN`` signs the exact bytes with the run's secret; a string is sent as
        the header value as it is; ``None`` leaves the header out.
        """
        request_headers = {"Content-Type": "application/json"}
        if isinstance(signature, _Sign):
            request_headers[SIGNATURE_HEADER] = sign(self._secret.reveal(), body)
        elif signature is not None:
            request_headers[SIGNATURE_HEADER] = signature
        request_headers.update(headers or {})
        return self.request("POST", label=label, body=body, headers=request_headers,
                            event_id=event_id, valid=valid, url=url)

    def request(
        self,
        method: str,
        *,
        label: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        event_id: str | None = None,
        valid: bool = False,
        url: str | None = None,
    ) -> Exchange:
        target = url or self.url
        exchange = Exchange(
            label=label,
            method=method,
            url=target,
            request_headers=dict(headers or {}),
            request_body=excerpt(body),
            request_size=len(body),
            event_id=event_id,
            valid=valid,
        )
        if self._unanswered_in_a_row >= UNANSWERED_LIMIT:
            exchange.error = (f"not sent: the target left the last {UNANSWERED_LIMIT} requests "
                              f"unanswered for {self.timeout:g} s each")
            return self._record(exchange)
        started = time.perf_counter()
        deadline = started + self.timeout
        try:
            with total_deadline(self.timeout), \
                    self._client.stream(method, target, content=body, headers=headers) as response:
                exchange.latency_ms = (time.perf_counter() - started) * 1000
                exchange.status = response.status_code
                exchange.response_headers = dict(response.headers)
                exchange.response_body = excerpt(read_capped(response, deadline=deadline))
        except (httpx.HTTPError, OSError, ssl.SSLError) as error:
            exchange.error = describe_error(error, self.timeout)
            if exchange.status is None:
                exchange.latency_ms = (time.perf_counter() - started) * 1000
            if isinstance(error, httpx.TimeoutException):
                self._unanswered_in_a_row += 1
        if exchange.error is None:
            self._unanswered_in_a_row = 0
        return self._record(exchange)

    def _record(self, exchange: Exchange) -> Exchange:
        # A hostile or careless target may echo the secret back: it never leaves this object.
        exchange = exchange.redacted(self._secret.redact)
        self.recorder.append(exchange)
        self.history.append(exchange)
        return exchange


def read_capped(response: httpx.Response, cap: int = RESPONSE_READ_CAP,
                deadline: float | None = None) -> bytes:
    """Read at most ``cap`` bytes; a body still coming at the ``deadline`` (perf_counter) is a
    timeout (a response that never ends is no answer), a body past the cap is simply cut."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= cap:
            break
        if deadline is not None and time.perf_counter() > deadline:
            raise httpx.ReadTimeout("the response body was still coming at the deadline")
    return b"".join(chunks)[:cap]
