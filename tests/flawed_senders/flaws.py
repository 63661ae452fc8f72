"""Deliberately flawed webhook senders, each the reference sender with one method overridden.

Each is run by the conformance suite through the Python-callable form, e.g.
``--punctual-sender-cmd python:flawed_senders.flaws:no_retry`` (with ``tests/`` on
``PYTHONPATH``). :data:`FLAWS` maps a flaw's name to its class; the module-level functions of
the same names (dashes as underscores) are the entry points.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

from punctual_conformance.reference_sender import (
    AttemptResult,
    EndpointRefused,
    ReferenceSender,
    deliver_job,
)
from punctual_conformance.sender_history import Delivery, rfc3339


class NoRetry(ReferenceSender):
    def should_retry(self, result: AttemptResult, attempts_made: int) -> bool:
        return False


class ConstantDelay(ReferenceSender):
    def next_delay(self, attempts_made: int) -> float:
        return self.schedule.first_delay_s * self.time_scale


class ZeroDelay(ReferenceSender):
    def next_delay(self, attempts_made: int) -> float:
        return 0.0


class NewIdPerAttempt(ReferenceSender):
    def body_for_attempt(self, delivery: Delivery, number: int) -> bytes:
        envelope = json.loads(delivery.body)
        envelope["id"] = "evt_" + os.urandom(16).hex()
        return self.serialize(envelope)


class DifferentBytesPerAttempt(ReferenceSender):
    def body_for_attempt(self, delivery: Delivery, number: int) -> bytes:
        return json.dumps(json.loads(delivery.body), indent=number).encode("utf-8")


class AttemptAfterSuccess(ReferenceSender):
    def deliver(self, event_id: str) -> Delivery | None:
        delivery = super().deliver(event_id)
        if delivery is not None and delivery.state.value == "delivered":
            started = rfc3339(time.time())
            result = self.post(delivery.url, delivery.body, self.headers(delivery.body))
            self.report({"attempt": delivery.attempts + 1,
                         "status": "delivered" if self.is_success(result) else "failed",
                         "response_code": result.response_code, "at": started})
        return delivery


class NoRetryOn4xx(ReferenceSender):
    def should_retry(self, result: AttemptResult, attempts_made: int) -> bool:
        code = result.response_code
        if code is not None and 400 <= code < 500:
            return False
        return super().should_retry(result, attempts_made)


class NoRetryOnTimeout(ReferenceSender):
    def should_retry(self, result: AttemptResult, attempts_made: int) -> bool:
        return not result.timed_out and super().should_retry(result, attempts_made)


class WrongSignature(ReferenceSender):
    """Signs a re-serialization of the body instead of the bytes it sends."""

    def sign(self, body: bytes) -> str:
        return super().sign(json.dumps(json.loads(body)).encode("utf-8"))


class UppercaseHex(ReferenceSender):
    def sign(self, body: bytes) -> str:
        return super().sign(body).upper()


class WrongHeaderName(ReferenceSender):
    def headers(self, body: bytes) -> dict[str, str]:
        headers = super().headers(body)
        headers["X-Punctual-Signature"] = headers.pop("Punctual-Signature")
        return headers


class WrongContentType(ReferenceSender):
    def headers(self, body: bytes) -> dict[str, str]:
        return {**super().headers(body), "Content-Type": "text/plain"}


class BadEnvelope(ReferenceSender):
    """Replaces the event id by one without the evt_ prefix."""

    def prepare_event(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        event = super().prepare_event(envelope)
        event["id"] = os.urandom(16).hex()
        return event


class DroppedQueryString(ReferenceSender):
    def request_target(self, parts: SplitResult) -> str:
        return parts.path or "/"


class DeliversToHttp(ReferenceSender):
    def check_endpoint(self, url: str) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise EndpointRefused("not a web URL")

    def connection(self, parts: SplitResult, address: str,
                   timeout: float | None) -> http.client.HTTPConnection:
        if parts.scheme == "http":
            return http.client.HTTPConnection(address, parts.port or 80, timeout=timeout)
        return super().connection(parts, address, timeout)


class SkipsCertificateVerification(ReferenceSender):
    def ssl_context(self) -> ssl.SSLContext:
        context = super().ssl_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context


class FollowsRedirects(ReferenceSender):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        result = super().post(url, body, headers)
        code = result.response_code
        if code is not None and 300 <= code < 400 and result.location:
            return super().post(result.location, body, headers)
        return result


class NoTimeout(ReferenceSender):
    def attempt_timeout(self) -> float | None:
        return None


class RetriesForever(ReferenceSender):
    def should_retry(self, result: AttemptResult, attempts_made: int) -> bool:
        return True


class WrongHistory(ReferenceSender):
    """Records every failed answer as a 500, whatever came back."""

    def record_attempt(self, delivery: Delivery, number: int, result: AttemptResult,
                       delivered: bool, next_attempt_at: float | None) -> None:
        if result.response_code is not None and not delivered:
            result = dataclasses.replace(result, response_code=500)
        super().record_attempt(delivery, number, result, delivered, next_attempt_at)


FLAWS: dict[str, type[ReferenceSender]] = {
    "no-retry": NoRetry,
    "constant-delay": ConstantDelay,
    "zero-delay": ZeroDelay,
    "new-id-per-attempt": NewIdPerAttempt,
    "different-bytes-per-attempt": DifferentBytesPerAttempt,
    "attempt-after-success": AttemptAfterSuccess,
    "no-retry-on-4xx": NoRetryOn4xx,
    "no-retry-on-timeout": NoRetryOnTimeout,
    "wrong-signature": WrongSignature,
    "uppercase-hex": UppercaseHex,
    "wrong-header-name": WrongHeaderName,
    "wrong-content-type": WrongContentType,
    "bad-envelope": BadEnvelope,
    "dropped-query-string": DroppedQueryString,
    "delivers-to-http": DeliversToHttp,
    "skips-certificate-verification": SkipsCertificateVerification,
    "follows-redirects": FollowsRedirects,
    "no-timeout": NoTimeout,
    "retries-forever": RetriesForever,
    "wrong-history": WrongHistory,
}


def _entry(sender_class: type[ReferenceSender]) -> Callable[[Any], int]:
    def entry(job: Any) -> int:
        return deliver_job(job, sender_class)

    entry.__name__ = sender_class.__name__
    return entry


for _name, _class in FLAWS.items():
    globals()[_name.replace("-", "_")] = _entry(_class)


def command(flaw: str) -> str:
    """The --punctual-sender-cmd value of a flaw."""
    if flaw not in FLAWS:
        raise KeyError(flaw)
    return f"python:flawed_senders.flaws:{flaw.replace('-', '_')}"
