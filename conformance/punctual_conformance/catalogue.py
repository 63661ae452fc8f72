"""The requirement catalogue: the single source for test ids, reports and the README table.

Each requirement of the Punctual Webhooks v1 profile is stated here in the project's own words,
with the product-page sentence it comes from. Where the project decided something the profile
left open, the ``decision`` field says what and why (see also ``docs/decisions.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "RECEIVER_REQUIREMENTS",
    "REQUIREMENTS",
    "SENDER_REQUIREMENTS",
    "Level",
    "Mode",
    "Requirement",
    "requirement",
    "requirements_for",
]

PROFILE = "punctual-webhooks/v1"


class Level(str, Enum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    INFO = "INFO"


class Mode(str, Enum):
    RECEIVER = "receiver"
    SENDER = "sender"


@dataclass(frozen=True)
class Requirement:
    id: str
    level: Level
    area: str
    title: str
    rationale: str
    observer: bool = False
    decision: str = ""

    @property
    def mode(self) -> Mode:
        return Mode.RECEIVER if self.id.startswith("RCV-") else Mode.SENDER


_SIGNING = (
    '"All webhooks are signed with HMAC-SHA256 to ensure authenticity and prevent tampering."'
)
_RESPONSE = (
    '"Respond with a 2xx status code to acknowledge receipt. Any other status code will cause '
    'us to retry the webhook delivery."'
)
_IDEMPOTENCY = (
    '"Webhook events may be delivered multiple times. Use the event ID to ensure you don\'t '
    'process the same event twice."'
)
_HTTPS = (
    '"Always use HTTPS endpoints for webhook receivers. We will not deliver webhooks to HTTP '
    'endpoints for security reasons."'
)
_RETRIES = (
    '"Failed webhook deliveries are automatically retried with exponential backoff."'
)

_M, _S, _I = Level.MUST, Level.SHOULD, Level.INFO

RECEIVER_REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("RCV-ACK-01", _M, "acknowledgement",
                "A correctly signed, schema-valid event of each of the six types is "
                "acknowledged with a 2xx status", _RESPONSE),
    Requirement("RCV-ACK-02", _M, "acknowledgement",
                "Every valid delivery is acknowledged within the ack deadline "
                "(10 s unless configured)", _RESPONSE,
                decision="A delivery that gets no answer at all within the deadline also "
                "fails this row, so a hanging receiver is reported here and not only as an "
                "error."),
    Requirement("RCV-ACK-03", _M, "acknowledgement",
                "A valid delivery is not answered with a 3xx redirect (senders never "
                "follow redirects)", _RESPONSE),
    Requirement("RCV-ACK-04", _S, "acknowledgement",
                "An unknown event type in a well-formed, correctly signed envelope is "
                "acknowledged (forward compatibility)", _RESPONSE),
    Requirement("RCV-ACK-05", _S, "acknowledgement",
                "Unknown extra fields in the envelope and in data.object are tolerated",
                _RESPONSE),
    Requirement("RCV-ACK-06", _S, "acknowledgement",
                "Generated schema-valid events of every type, non-ASCII text included, "
                "are all acknowledged", _RESPONSE),
    Requirement("RCV-ACK-07", _S, "acknowledgement",
                "A large valid event (at least 128 KB on the wire) is acknowledged",
                _RESPONSE),
    Requirement("RCV-SIG-01", _M, "signature",
                "A delivery without the Punctual-Signature header is rejected (not 2xx)",
                _SIGNING),
    Requirement("RCV-SIG-02", _M, "signature",
                "A signature made with another secret is rejected", _SIGNING),
    Requirement("RCV-SIG-03", _M, "signature",
                "A body altered after signing is rejected", _SIGNING),
    Requirement("RCV-SIG-04", _M, "signature",
                "Malformed signature values are rejected (empty, non-hex, one character "
                "short or long, a sha256= prefix, trailing junk)", _SIGNING),
    Requirement("RCV-SIG-05", _M, "signature",
                "The signature is checked over the raw body bytes: unusual but valid JSON "
                "signed over exactly those bytes is acknowledged", _SIGNING),
    Requirement("RCV-SIG-06", _M, "signature",
                "Deliveries with a missing or invalid signature are answered 4xx, never 5xx",
                _SIGNING + " " + _RESPONSE),
    Requirement("RCV-SIG-07", _S, "signature",
                "Signature rejections use status 400, as the product page's examples do",
                _SIGNING),
    Requirement("RCV-SIG-08", _M, "signature",
                "A delivery with a missing or invalid signature has no effect, whatever "
                "the receiver answered", _SIGNING, observer=True),
    Requirement("RCV-IDEM-01", _M, "idempotency",
                "A redelivery of an acknowledged event is acknowledged again, not refused",
                _IDEMPOTENCY + " " + _RESPONSE),
    Requirement("RCV-IDEM-02", _M, "idempotency",
                "After several sequential deliveries of one event it was processed exactly "
                "once", _IDEMPOTENCY, observer=True),
    Requirement("RCV-IDEM-03", _S, "idempotency",
                "Concurrent deliveries of one event are all acknowledged and the event is "
                "processed exactly once", _IDEMPOTENCY, observer=True),
    Requirement("RCV-IDEM-04", _M, "idempotency",
                "Distinct events about the same object are each processed once: the dedupe "
                "key is the event id, not the object id", _IDEMPOTENCY, observer=True),
    Requirement("RCV-TLS-01", _M, "tls", "The endpoint URL is https://", _HTTPS),
    Requirement("RCV-TLS-02", _M, "tls",
                "The endpoint's certificate verifies for its host (system trust store or "
                "the given CA bundle)", _HTTPS),
    Requirement("RCV-TLS-03", _S, "tls",
                "The endpoint refuses TLS versions below 1.2", _HTTPS,
                decision="When this machine's TLS library cannot offer TLS 1.0/1.1 at all, "
                "the row is not verified, never passed."),
    Requirement("RCV-HTTP-01", _I, "http",
                "A GET to the endpoint is not acknowledged with 2xx",
                '"Webhooks are delivered as POST requests" is implied by the page\'s '
                "examples (app.post('/webhook'))."),
)

SENDER_REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("SND-SIG-01", _M, "signature",
                "Every attempt carries Punctual-Signature = lowercase hex "
                "HMAC-SHA256(secret, raw body)", _SIGNING),
    Requirement("SND-BODY-01", _M, "body",
                "The body is UTF-8 JSON valid against the schema of its type, with an evt_ "
                "id and an RFC 3339 UTC created time", "The product page's event examples."),
    Requirement("SND-BODY-02", _M, "body",
                "The Content-Type is application/json (a charset parameter is allowed)",
                "The page's examples parse the body as application/json."),
    Requirement("SND-BODY-03", _M, "body",
                "The method is POST, to the exact endpoint URL with path and query string",
                "app.post('/webhook') in the page's examples."),
    Requirement("SND-BODY-04", _S, "body",
                "Payloads are semantically sane beyond the schema (end after start, ordered "
                "slots, UTC timestamps)", "The product page's event examples."),
    Requirement("SND-RETRY-01", _M, "retry",
                "A non-2xx answer (500, 503, 429, 404, 400) is retried", _RESPONSE),
    Requirement("SND-RETRY-02", _M, "retry",
                "A timeout and a connection error are retried", _RETRIES),
    Requirement("SND-RETRY-03", _M, "retry",
                "Every retry carries the same event: same id, byte-identical body, valid "
                "signature", _IDEMPOTENCY),
    Requirement("SND-RETRY-04", _M, "retry",
                "After a 2xx no further attempt is made for that event", _RESPONSE),
    Requirement("SND-RETRY-05", _M, "retry",
                "Backoff is exponential: the first retry is not immediate and delays grow "
                "geometrically", _RETRIES),
    Requirement("SND-RETRY-06", _S, "retry",
                "Attempts are bounded: a sender whose every attempt fails gives up and "
                "reports final failure", _RETRIES),
    Requirement("SND-TLS-01", _M, "tls",
                "An http:// endpoint is refused: nothing reaches a plain-HTTP listener",
                _HTTPS),
    Requirement("SND-TLS-02", _M, "tls",
                "The receiver's certificate is verified: nothing is delivered to an "
                "untrusted certificate", _HTTPS),
    Requirement("SND-HTTP-01", _S, "http",
                "Each attempt has a timeout: a receiver that never answers does not stall "
                "delivery", _RETRIES),
    Requirement("SND-HTTP-02", _S, "http",
                "Redirects are not followed: a 3xx is a failed attempt and the Location "
                "receives nothing", _RESPONSE),
    Requirement("SND-HIST-01", _S, "history",
                "Reported attempts match what the receiver returned and states follow the "
                "delivery states", '"Complete history of all webhook events with delivery '
                'status and response codes."'),
)

REQUIREMENTS: dict[str, Requirement] = {
    r.id: r for r in RECEIVER_REQUIREMENTS + SENDER_REQUIREMENTS
}


def requirement(requirement_id: str) -> Requirement:
    """Look a requirement up by id; unknown ids are a programming error."""
    return REQUIREMENTS[requirement_id]


def requirements_for(mode: Mode) -> tuple[Requirement, ...]:
    return RECEIVER_REQUIREMENTS if mode is Mode.RECEIVER else SENDER_REQUIREMENTS


def markdown_table(mode: Mode) -> str:
    """The README's requirement table for ``mode``, generated from this catalogue."""
    lines = ["| id | level | requirement | checked in |", "|---|---|---|---|"]
    folder = f"conformance/punctual_conformance/checks/{mode.value}"
    for req in requirements_for(mode):
        note = " (needs the observer)" if req.observer else ""
        lines.append(f"| {req.id} | {req.level.value} | {req.title}{note} | "
                     f"`{folder}/{req.area}.py` |")
    return "\n".join(lines)
