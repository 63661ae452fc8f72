"""The HTML report's view model, built from the JSON report's data (``RunResults.to_json``).

Both reports read the same dictionary, so they agree row for row. Everything here is plain
data for the template: texts (escaped by the template, never marked safe), numbers, and the
geometry of the attempt timelines (inline SVG). Every text passes through ``redact`` once more,
whatever ``to_json`` already did.

Attempt timelines are drawn from a check's ``facts``, generically: any dictionary within the
facts (the facts themselves included) that holds an ``"attempts"`` list of dictionaries with an
``"attempt"`` number becomes one chart. Each attempt may carry::

    attempt              int, 1-based
    at_ms                float, time since the first attempt (or at_s, in seconds)
    gap_ms               float | None, time since the previous attempt (or gap_s)
    expected_min_gap_ms  float | None, the least gap the expected backoff allows (or
                         expected_min_gap_s)
    expected_max_gap_ms  float | None, the largest such gap, if bounded (or expected_max_gap_s)
    status               int | None, the HTTP status the attempt got (None: no answer)
    answer               str, optional: what the attempt got, e.g. "500", "timeout"

The chart's title is the dictionary's ``"scenario"`` if any, else its key path in the facts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from punctual_conformance.results import redact_deep

__all__ = [
    "AreaView",
    "AttemptMark",
    "CheckView",
    "ExchangeView",
    "GapBar",
    "LatencyView",
    "ProblemView",
    "ReportView",
    "RowView",
    "TimelineView",
    "build_report_view",
    "latency_stats",
    "reason_parts",
    "timelines_from_facts",
]

OUTCOMES = ("failed", "not-verified", "passed", "skipped")
LEVELS = ("MUST", "SHOULD", "INFO")
VERDICT_LABELS = {
    "conformant": "Conformant",
    "conformant-with-warnings": "Conformant with warnings",
    "not-conformant": "Not conformant",
}
AREA_LABELS = {
    "acknowledgement": "Acknowledgement",
    "signature": "Signature",
    "idempotency": "Idempotency",
    "tls": "TLS",
    "http": "HTTP",
    "body": "Body",
    "retry": "Retries and backoff",
    "history": "Delivery history",
}
# Rows needing attention first in the summary: MUST failures, then SHOULD, then unverified.
_PROBLEM_ORDER = {("failed", "MUST"): 0, ("failed", "SHOULD"): 1, ("failed", "INFO"): 2,
                  ("not-verified", "MUST"): 3, ("not-verified", "SHOULD"): 4,
                  ("not-verified", "INFO"): 5}
BODY_PREVIEW_CHARS = 4096

Redact = Callable[[str], str]


# -- view classes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeView:
    label: str
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: str
    request_size: int
    status: int | None
    status_class: str  # ok | bad | none
    latency: str
    response_headers: list[tuple[str, str]]
    response_body: str
    error: str
    event_id: str
    valid: bool

    @property
    def observed(self) -> str:
        if self.status is None:
            return f"no response: {self.error}" if self.error else "no response"
        return f"{self.status} after {self.latency}" if self.latency else str(self.status)


@dataclass(frozen=True)
class AttemptMark:
    attempt: int
    at_ms: float
    x: float
    label: str
    ok: bool


@dataclass(frozen=True)
class GapBar:
    attempt: int  # the attempt that ends the gap
    y: float
    x0: float
    x1: float  # actual gap: x0..x1
    expected_x0: float | None  # earliest allowed arrival of this attempt
    expected_x1: float | None  # latest allowed arrival, if bounded
    gap_ms: float
    expected_min_ms: float | None
    expected_max_ms: float | None
    too_short: bool
    too_long: bool
    label: str  # short, beside the bar
    text: str  # with the expectation, for the tooltip and the table


@dataclass(frozen=True)
class TimelineView:
    title: str
    width: int
    height: int
    plot_x0: float
    plot_x1: float
    axis_y: float
    marks: list[AttemptMark]
    gaps: list[GapBar]
    ticks: list[tuple[float, str]]
    total_ms: float
    has_expectation: bool
    violations: int

    @property
    def summary(self) -> str:
        what = f"{len(self.marks)} attempt(s) over {_ms(self.total_ms)}"
        if self.violations:
            what += f"; {self.violations} gap(s) outside the expected backoff"
        return what


@dataclass(frozen=True)
class CheckView:
    nodeid: str
    outcome: str
    message: str
    duration_s: float
    facts_json: str
    timelines: list[TimelineView]
    exchanges: list[ExchangeView]


@dataclass(frozen=True)
class RowView:
    id: str
    level: str
    area: str
    outcome: str
    title: str
    reason: str
    evidence: list[str]
    checks: list[CheckView]

    @property
    def reason_parts(self) -> list[tuple[str, str]]:
        return reason_parts(self.reason)

    @property
    def exchange_count(self) -> int:
        return sum(len(c.exchanges) for c in self.checks)

    @property
    def has_details(self) -> bool:
        return bool(self.checks or self.evidence)

    @property
    def attention(self) -> bool:
        return self.outcome in ("failed", "not-verified")


@dataclass(frozen=True)
class AreaView:
    name: str
    label: str
    rows: list[RowView]

    @property
    def counts(self) -> dict[str, int]:
        return {o: sum(1 for r in self.rows if r.outcome == o) for o in OUTCOMES}


@dataclass(frozen=True)
class ProblemView:
    id: str
    level: str
    outcome: str
    title: str
    reason: str

    @property
    def reason_parts(self) -> list[tuple[str, str]]:
        return reason_parts(self.reason)


@dataclass(frozen=True)
class LatencyView:
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float


@dataclass(frozen=True)
class ReportView:
    verdict: str
    verdict_label: str
    verdict_detail: str
    development_mode: bool
    conformance_claim: bool
    profile: str
    mode: str
    target: str
    suite_version: str
    started: str
    duration: str
    seed: int | None
    command_line: str
    notes: list[str]
    counts: dict[str, dict[str, int]]  # level -> outcome -> n
    totals: dict[str, int]
    problems: list[ProblemView]
    areas: list[AreaView]
    latency: LatencyView | None
    outcomes: tuple[str, ...] = OUTCOMES
    levels: list[str] = field(default_factory=lambda: list(LEVELS))

    @property
    def requirement_count(self) -> int:
        return sum(len(a.rows) for a in self.areas)


# -- building ---------------------------------------------------------------------------------


def build_report_view(data: Mapping[str, Any], suite_version: str,
                      redact: Redact = lambda text: text) -> ReportView:
    """The view of one report; ``data`` is ``RunResults.to_json(redact)``."""
    data = redact_deep(data, redact)
    rows = [_row(row) for row in data["requirements"]]
    areas: list[AreaView] = []
    for row in rows:
        if not areas or areas[-1].name != row.area:
            areas.append(AreaView(row.area, AREA_LABELS.get(row.area, row.area.title()), []))
        areas[-1].rows.append(row)
    problems = sorted(
        (ProblemView(r.id, r.level, r.outcome, r.title, r.reason) for r in rows if r.attention),
        key=lambda p: _PROBLEM_ORDER.get((p.outcome, p.level), 9),
    )
    levels = [lv for lv in LEVELS if any(r.level == lv for r in rows)]
    levels += sorted({r.level for r in rows} - set(levels))
    counts = {lv: {o: sum(1 for r in rows if r.level == lv and r.outcome == o) for o in OUTCOMES}
              for lv in levels}
    totals = {o: sum(1 for r in rows if r.outcome == o) for o in OUTCOMES}
    verdict = str(data["verdict"])
    development = bool(data.get("development_mode"))
    claim = bool(data.get("conformance_claim", not development))
    latency = latency_stats(_latencies(data)) if data.get("mode") == "receiver" else None
    return ReportView(
        verdict=verdict,
        verdict_label=VERDICT_LABELS.get(verdict, verdict),
        verdict_detail=_verdict_detail(verdict, development, claim, problems),
        development_mode=development,
        conformance_claim=claim,
        profile=str(data.get("profile", "")),
        mode=str(data.get("mode", "")),
        target=str(data.get("target", "")),
        suite_version=suite_version,
        started=_when(data.get("started")),
        duration=_duration(data.get("started"), data.get("finished")),
        seed=data.get("seed"),
        command_line=str(data.get("command_line", "")),
        notes=[str(n) for n in data.get("notes", [])],
        counts=counts,
        totals=totals,
        problems=problems,
        areas=areas,
        latency=latency,
        levels=levels,
    )


def _verdict_detail(verdict: str, development: bool, claim: bool,
                    problems: list[ProblemView]) -> str:
    failed = [p for p in problems if p.outcome == "failed"]
    unverified = [p for p in problems if p.outcome == "not-verified"]
    parts = []
    if failed:
        must = sum(1 for p in failed if p.level == "MUST")
        named = ", ".join(p.id for p in failed[:6]) + (", …" if len(failed) > 6 else "")
        parts.append(f"{len(failed)} requirement(s) failed"
                     + (f", {must} of them MUST" if must else "") + f": {named}")
    if unverified:
        parts.append(f"{len(unverified)} not verified")
    if not parts:
        parts.append("every requirement that ran passed")
    if development:
        parts.append("development mode (http:// allowed): no conformance claim")
    elif not claim:
        parts.append("not every requirement ran: no full conformance claim")
    return "; ".join(parts)


def _row(row: Mapping[str, Any]) -> RowView:
    return RowView(
        id=str(row["id"]),
        level=str(row["level"]),
        area=str(row.get("area", "")),
        outcome=str(row["outcome"]),
        title=str(row["title"]),
        reason=_one_line(str(row.get("reason", ""))),
        evidence=[str(e) for e in row.get("evidence", [])],
        checks=[_check(c) for c in row.get("checks", [])],
    )


def _check(check: Mapping[str, Any]) -> CheckView:
    facts = check.get("facts") or {}
    return CheckView(
        nodeid=str(check.get("nodeid", "")),
        outcome=str(check.get("outcome", "")),
        message=str(check.get("message", "")),
        duration_s=float(check.get("duration_s") or 0.0),
        facts_json=json.dumps(facts, indent=2, ensure_ascii=False, default=str) if facts else "",
        timelines=timelines_from_facts(facts),
        exchanges=[_exchange(e) for e in check.get("exchanges", [])],
    )


def _exchange(exchange: Mapping[str, Any]) -> ExchangeView:
    status = exchange.get("status")
    latency = exchange.get("latency_ms")
    return ExchangeView(
        label=str(exchange.get("label", "")),
        method=str(exchange.get("method", "")),
        url=str(exchange.get("url", "")),
        request_headers=[(str(k), str(v))
                         for k, v in (exchange.get("request_headers") or {}).items()],
        request_body=_preview(str(exchange.get("request_body", ""))),
        request_size=int(exchange.get("request_size") or 0),
        status=status,
        status_class="none" if status is None else "ok" if 200 <= status < 300 else "bad",
        latency="" if latency is None else _ms(float(latency)),
        response_headers=[(str(k), str(v))
                          for k, v in (exchange.get("response_headers") or {}).items()],
        response_body=_preview(str(exchange.get("response_body", ""))),
        error=str(exchange.get("error") or ""),
        event_id=str(exchange.get("event_id") or ""),
        valid=bool(exchange.get("valid")),
    )


def _latencies(data: Mapping[str, Any]) -> list[float]:
    """The same deliveries as ``RunResults.latencies_ms``: valid, answered, timed."""
    return [
        float(e["latency_ms"])
        for row in data["requirements"] for c in row.get("checks", [])
        for e in c.get("exchanges", [])
        if e.get("valid") and e.get("status") is not None and e.get("latency_ms") is not None
    ]


def latency_stats(latencies: Iterable[float]) -> LatencyView | None:
    """p50/p95/max, computed as the terminal summary does."""
    ordered = sorted(latencies)
    if not ordered:
        return None
    return LatencyView(
        count=len(ordered),
        p50_ms=ordered[len(ordered) // 2],
        p95_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        max_ms=ordered[-1],
    )


# -- attempt timelines ----------------------------------------------------------------------

_CHART_WIDTH = 720
_PLOT_X0 = 130.0
_PLOT_X1 = _CHART_WIDTH - 24.0
_AXIS_Y = 46.0
_GAP_ROW = 22.0
_TICK_ROOM = 26.0


def timelines_from_facts(facts: Any) -> list[TimelineView]:
    """One chart per ``attempts`` list found anywhere within ``facts``."""
    found: list[TimelineView] = []
    _find_timelines(facts, "facts", found)
    return found


def _find_timelines(value: Any, path: str, found: list[TimelineView]) -> None:
    if isinstance(value, Mapping):
        attempts = value.get("attempts")
        if isinstance(attempts, list) and attempts and all(
                isinstance(a, Mapping) and "attempt" in a for a in attempts):
            title = str(value.get("scenario") or path)
            timeline = _timeline(title, attempts)
            if timeline is not None:
                found.append(timeline)
        for key, item in value.items():
            if key != "attempts":
                _find_timelines(item, f"{path}.{key}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_timelines(item, f"{path}[{index}]", found)


def _number(attempt: Mapping[str, Any], name: str) -> float | None:
    """``name`` in ms, read from ``<name>_ms`` or ``<name>_s``."""
    for suffix, scale in (("_ms", 1.0), ("_s", 1000.0)):
        value = attempt.get(name + suffix)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) * scale
    return None


def _timeline(title: str, attempts: list[Mapping[str, Any]]) -> TimelineView | None:
    times: list[float] = []
    for attempt in attempts:
        at = _number(attempt, "at")
        if at is None:
            gap = _number(attempt, "gap")
            at = (times[-1] + (gap or 0.0)) if times else 0.0
        times.append(at)
    origin = times[0]
    times = [t - origin for t in times]
    expected_min = [_number(a, "expected_min_gap") for a in attempts]
    expected_max = [_number(a, "expected_max_gap") for a in attempts]
    horizon = max([*times, 1.0])
    for i in range(1, len(times)):
        for bound in (expected_min[i], expected_max[i]):
            if bound is not None:
                horizon = max(horizon, times[i - 1] + bound)
    horizon *= 1.04

    def x(ms: float) -> float:
        return round(_PLOT_X0 + (_PLOT_X1 - _PLOT_X0) * ms / horizon, 1)

    marks = []
    for attempt, at in zip(attempts, times, strict=True):
        status = attempt.get("status")
        answer = str(attempt.get("answer") or (status if status is not None else "no answer"))
        ok = isinstance(status, int) and 200 <= status < 300
        if status is None and answer[:1] == "2" and answer[:3].isdigit():
            ok = True
        marks.append(AttemptMark(int(attempt["attempt"]), at, x(at), answer, ok))
    gaps = []
    for i in range(1, len(times)):
        gap = times[i] - times[i - 1]
        low, high = expected_min[i], expected_max[i]
        too_short = low is not None and gap < low
        too_long = high is not None and gap > high
        label = f"#{marks[i - 1].attempt}→#{marks[i].attempt}  {_ms(gap)}"
        text = f"gap {_ms(gap)}"
        if high is not None:
            text += f" (expected {_ms(low or 0.0)} to {_ms(high)})"
        elif low is not None:
            text += f" (expected ≥ {_ms(low)})"
        gaps.append(GapBar(
            attempt=marks[i].attempt,
            y=_AXIS_Y + 28.0 + _GAP_ROW * (i - 1),
            x0=x(times[i - 1]), x1=x(times[i]),
            expected_x0=None if low is None else x(times[i - 1] + low),
            expected_x1=None if high is None else x(times[i - 1] + high),
            gap_ms=gap, expected_min_ms=low, expected_max_ms=high,
            too_short=too_short, too_long=too_long, label=label, text=text,
        ))
    ticks = [(x(horizon / 1.04 * k / 4), _ms(horizon / 1.04 * k / 4)) for k in range(5)]
    height = int(_AXIS_Y + 22.0 + _GAP_ROW * len(gaps) + _TICK_ROOM)
    return TimelineView(
        title=title, width=_CHART_WIDTH, height=height, plot_x0=_PLOT_X0, plot_x1=_PLOT_X1,
        axis_y=_AXIS_Y, marks=marks, gaps=gaps, ticks=ticks, total_ms=times[-1],
        has_expectation=any(g.expected_min_ms is not None or g.expected_max_ms is not None
                            for g in gaps),
        violations=sum(1 for g in gaps if g.too_short or g.too_long),
    )


# -- small helpers ----------------------------------------------------------------------------


_EXPECTED_OBSERVED = re.compile(r"^Expected: (?P<expected>.*?) Observed: (?P<observed>.*)$")


def reason_parts(reason: str) -> list[tuple[str, str]]:
    """A failure's one-line reason as labelled parts: ("Expected", …), ("Observed", …)."""
    match = _EXPECTED_OBSERVED.match(reason)
    if match is None:
        return [("", reason)] if reason else []
    return [("Expected", match["expected"]), ("Observed", match["observed"])]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _preview(text: str) -> str:
    if len(text) <= BODY_PREVIEW_CHARS:
        return text
    return text[:BODY_PREVIEW_CHARS] + f"… [{len(text) - BODY_PREVIEW_CHARS} more characters]"


def _ms(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 10 or value == 0:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _when(value: Any) -> str:
    moment = _parse_time(value)
    if moment is None:
        return str(value or "")
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _duration(started: Any, finished: Any) -> str:
    begin, end = _parse_time(started), _parse_time(finished)
    if begin is None or end is None:
        return "unknown"
    return _ms((end - begin).total_seconds() * 1000)
