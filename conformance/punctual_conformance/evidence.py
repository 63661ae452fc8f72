"""Wire evidence: what the suite sent and what came back, kept for the reports.

Excerpts are capped, and every text passes through the secret's redaction before it is kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["EXCERPT_LIMIT", "Exchange", "excerpt"]

EXCERPT_LIMIT = 2048


def excerpt(data: bytes, limit: int = EXCERPT_LIMIT) -> str:
    """A readable, capped excerpt of a body; the full size is kept separately."""
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"… [{len(data) - limit} more bytes]"
    return text


@dataclass
class Exchange:
    """One request of the suite and its outcome (a response, or the error instead of one)."""

    label: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    request_size: int
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    latency_ms: float | None = None
    error: str | None = None
    event_id: str | None = None
    valid: bool = False  # a correctly signed, well-formed delivery

    @property
    def acknowledged(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def answered_2xx(self) -> bool:
        """A 2xx status line arrived (even if the rest of the response then failed)."""
        return self.status is not None and 200 <= self.status < 300

    def observed(self) -> str:
        """One line saying what came back, for failure messages."""
        if self.status is None:
            return f"no response: {self.error}"
        observed = str(self.status) if self.latency_ms is None else \
            f"{self.status} after {self.latency_ms:.0f} ms"
        return observed if self.error is None else f"{observed}, then {self.error}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def redacted(self, redact: Any) -> Exchange:
        """A copy with ``redact`` applied to every text field."""
        return Exchange(
            label=redact(self.label),
            method=self.method,
            url=redact(self.url),
            request_headers={redact(k): redact(v) for k, v in self.request_headers.items()},
            request_body=redact(self.request_body),
            request_size=self.request_size,
            status=self.status,
            response_headers={redact(k): redact(v) for k, v in self.response_headers.items()},
            response_body=redact(self.response_body),
            latency_ms=self.latency_ms,
            error=None if self.error is None else redact(self.error),
            event_id=self.event_id,
            valid=self.valid,
        )
