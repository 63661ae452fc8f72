"""Per-requirement results, the verdict and the JSON report (profile section 6).

Shared by receiver and sender mode: checks report into a ``RunResults``; the reports and the
CI gate read from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any

from punctual_conformance.catalogue import PROFILE, Level, Mode, Requirement, requirements_for
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import Outcome

__all__ = [
    "CheckResult",
    "RequirementResult",
    "RunResults",
    "Verdict",
    "aggregate_outcome",
    "compute_verdict",
    "redact_deep",
]


class Verdict(str, Enum):
    CONFORMANT = "conformant"
    WITH_WARNINGS = "conformant-with-warnings"
    NOT_CONFORMANT = "not-conformant"


@dataclass
class CheckResult:
    """One pytest item of the suite: a check of one requirement (possibly one case of it)."""

    requirement_id: str
    nodeid: str
    outcome: Outcome
    message: str = ""
    duration_s: float = 0.0
    evidence: list[Exchange] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


# A requirement is as bad as its worst check.
_SEVERITY = [Outcome.FAILED, Outcome.NOT_VERIFIED, Outcome.PASSED, Outcome.SKIPPED]


def aggregate_outcome(outcomes: Iterable[Outcome]) -> Outcome:
    present = set(outcomes)
    if not present:
        return Outcome.SKIPPED
    if present == {Outcome.SKIPPED}:
        return Outcome.SKIPPED
    present.discard(Outcome.SKIPPED)
    return next(o for o in _SEVERITY if o in present)


@dataclass
class RequirementResult:
    requirement: Requirement
    outcome: Outcome
    checks: list[CheckResult]

    @property
    def reason(self) -> str:
        """A one-line reason for a failed, not-verified or skipped row."""
        if self.outcome is Outcome.PASSED:
            return ""
        if not self.checks:
            return "not selected in this run"
        for check in self.checks:
            if check.outcome is self.outcome and check.message:
                return check.message.splitlines()[0] if self.outcome is not Outcome.FAILED \
                    else " ".join(line.strip() for line in check.message.splitlines()[:2])
        return ""

    @property
    def evidence(self) -> list[Exchange]:
        return [exchange for check in self.checks for exchange in check.evidence]


def compute_verdict(rows: Iterable[RequirementResult]) -> Verdict:
    """MUST failures: not conformant; SHOULD failures or unverified rows: with warnings."""
    verdict = Verdict.CONFORMANT
    for row in rows:
        level, outcome = row.requirement.level, row.outcome
        if level is Level.INFO or outcome in (Outcome.PASSED, Outcome.SKIPPED):
            continue
        if level is Level.MUST and outcome is Outcome.FAILED:
            return Verdict.NOT_CONFORMANT
        verdict = Verdict.WITH_WARNINGS
    return verdict


@dataclass
class RunResults:
    mode: Mode
    target: str
    development_mode: bool = False
    command_line: str = ""
    seed: int | None = None
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    finished: datetime | None = None
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, check: CheckResult) -> None:
        self.checks.append(check)

    def rows(self) -> list[RequirementResult]:
        """Every requirement of the mode exactly once, in catalogue order."""
        by_id: dict[str, list[CheckResult]] = {}
        for check in self.checks:
            by_id.setdefault(check.requirement_id, []).append(check)
        return [
            RequirementResult(req, aggregate_outcome(c.outcome for c in by_id.get(req.id, [])),
                              by_id.get(req.id, []))
            for req in requirements_for(self.mode)
        ]

    def verdict(self) -> Verdict:
        return compute_verdict(self.rows())

    def conformance_claim(self) -> bool:
        """False in development mode or when MUST/SHOULD rows did not run."""
        if self.development_mode:
            return False
        return not any(
            row.outcome is Outcome.SKIPPED and row.requirement.level is not Level.INFO
            for row in self.rows()
        )

    def gate_passes(self, strict: bool) -> bool:
        verdict = self.verdict()
        if strict:
            return verdict is Verdict.CONFORMANT
        return verdict is not Verdict.NOT_CONFORMANT

    def latencies_ms(self) -> list[float]:
        return [
            e.latency_ms
            for c in self.checks
            for e in c.evidence
            if e.valid and e.status is not None and e.latency_ms is not None
        ]

    def to_json(self, redact: Callable[[str], str] = lambda text: text) -> dict[str, Any]:
        rows = self.rows()
        return {
            "profile": PROFILE,
            "mode": self.mode.value,
            "target": redact(self.target),
            "verdict": self.verdict().value,
            "conformance_claim": self.conformance_claim(),
            "development_mode": self.development_mode,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "command_line": redact(self.command_line),
            "seed": self.seed,
            "notes": [redact(n) for n in self.notes],
            "summary": _summary(rows),
            "requirements": [
                {
                    "id": row.requirement.id,
                    "level": row.requirement.level.value,
                    "area": row.requirement.area,
                    "outcome": row.outcome.value,
                    "title": row.requirement.title,
                    "reason": redact(row.reason),
                    "evidence": [redact(_evidence_line(e)) for e in row.evidence],
                    "checks": [
                        {
                            "nodeid": c.nodeid,
                            "outcome": c.outcome.value,
                            "message": redact(c.message),
                            "duration_s": round(c.duration_s, 4),
                            "facts": redact_deep(c.facts, redact),
                            "exchanges": [e.redacted(redact).to_dict() for e in c.evidence],
                        }
                        for c in row.checks
                    ],
                }
                for row in rows
            ],
        }

    def write_json(self, path: Path, redact: Callable[[str], str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(redact), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")


def redact_deep(value: Any, redact: Callable[[str], str]) -> Any:
    """Redact every string inside JSON-like data (keys included); other leaves become
    JSON-compatible."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_deep(v, redact) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_deep(v, redact) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def _evidence_line(exchange: Exchange) -> str:
    return f"{exchange.label}: {exchange.method} {exchange.url} -> {exchange.observed()}"


def _summary(rows: list[RequirementResult]) -> dict[str, dict[str, int]]:
    summary: dict[str, dict[str, int]] = {}
    for row in rows:
        by_outcome = summary.setdefault(row.requirement.level.value, {o.value: 0 for o in Outcome})
        by_outcome[row.outcome.value] += 1
    return summary
