"""The observer hook of profile section 4: how many times did the receiver process an event?"""

from __future__ import annotations

import json
import ssl

import httpx

from punctual_conformance.client import describe_error, read_capped
from punctual_conformance.deadline_transport import DeadlineTransport, total_deadline

__all__ = ["OBSERVER_READ_CAP", "ObserverClient", "ObserverError"]

# How much of the observer's answer is read and parsed: {"processed": <int>} is a few bytes.
# The rest of a longer answer is never read (a 100 MB answer costs 4 KiB, not 100 MB).
OBSERVER_READ_CAP = 4096


class ObserverError(RuntimeError):
    """The observer did not answer as the contract says; the row cannot be verified."""


def _ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class ObserverClient:
    """``GET URL?event_id=<id>`` answering ``200 {"processed": <int>}``.

    Bounded like the suite's requests to the target: each request ends by ``timeout`` in
    total (headers and body, however slowly they trickle), and at most OBSERVER_READ_CAP bytes
    of the answer are read (uncompressed: the request asks for ``identity``).
    """

    def __init__(self, url: str, *, verify: ssl.SSLContext | bool = True,
                 timeout: float) -> None:
        self.url = url
        self._timeout = timeout
        self._client = httpx.Client(
            transport=DeadlineTransport(_ssl_context(verify)),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False, trust_env=False,
            headers={"Accept-Encoding": "identity"},
        )

    def close(self) -> None:
        self._client.close()

    def processed_count(self, event_id: str) -> int:
        try:
            with total_deadline(self._timeout), self._client.stream(
                    "GET", self.url, params={"event_id": event_id}) as response:
                status = response.status_code
                content = read_capped(response, OBSERVER_READ_CAP) if status == 200 else b""
        except httpx.HTTPError as error:
            raise ObserverError(
                f"observer {self.url} unreachable: {describe_error(error, self._timeout)}"
            ) from None
        if status != 200:
            raise ObserverError(f"observer answered {status}, expected 200")
        try:
            processed = json.loads(content)["processed"]
        except (ValueError, KeyError, TypeError):
            raise ObserverError(
                'observer did not answer JSON {"processed": <int>}'
            ) from None
        if not isinstance(processed, int) or isinstance(processed, bool) or processed < 0:
            raise ObserverError(f"observer's processed count is not a count: {processed!r}")
        return processed



