"""The observer hook of profile section 4: how many times did the receiver process an event?"""

from __future__ import annotations

import json

import httpx

from punctual_conformance.client import describe_error

__all__ = ["ObserverClient", "ObserverError"]


class ObserverError(RuntimeError):
    """The observer did not answer as the contract says; the row cannot be verified."""


class ObserverClient:
    """``GET URL?event_id=<id>`` answering ``200 {"processed": <int>}``."""

    def __init__(self, url: str, *, verify: object, timeout: float) -> None:
        self.url = url
        self._timeout = timeout
        self._client = httpx.Client(verify=verify, timeout=timeout,  # type: ignore[arg-type]
                                    follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def processed_count(self, event_id: str) -> int:
        try:
            response = self._client.get(self.url, params={"event_id": event_id})
        except httpx.HTTPError as error:
            raise ObserverError(
                f"observer {self.url} unreachable: {describe_error(error, self._timeout)}"
            ) from None
        if response.status_code != 200:
            raise ObserverError(f"observer answered {response.status_code}, expected 200")
        try:
            processed = json.loads(response.content[:4096])["processed"]
        except (ValueError, KeyError, TypeError):
            raise ObserverError(
                'observer did not answer JSON {"processed": <int>}'
            ) from None
        if not isinstance(processed, int) or isinstance(processed, bool) or processed < 0:
            raise ObserverError(f"observer's processed count is not a count: {processed!r}")
        return processed
