"""The verdict summary printed at the end of pytest's output."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from punctual_conformance.catalogue import Mode
from punctual_conformance.outcomes import Outcome
from punctual_conformance.results import RunResults, Verdict

__all__ = ["write_summary"]

_MARKUP = {
    Verdict.CONFORMANT: {"green": True, "bold": True},
    Verdict.WITH_WARNINGS: {"yellow": True, "bold": True},
    Verdict.NOT_CONFORMANT: {"red": True, "bold": True},
}


def write_summary(reporter: pytest.TerminalReporter, results: RunResults, *, strict: bool,
                  redact: Callable[[str], str]) -> None:
    rows = results.rows()
    reporter.write_sep("=", f"Punctual Webhooks v1 conformance ({results.mode.value} mode)")
    reporter.write_line(f"target: {redact(results.target)}")
    for outcome in Outcome:
        chosen = [row for row in rows if row.outcome is outcome]
        if not chosen:
            continue
        reporter.write_line(f"{outcome.value:>13}: {len(chosen)} requirement(s)")
        if outcome in (Outcome.FAILED, Outcome.NOT_VERIFIED, Outcome.SKIPPED):
            for row in chosen:
                reason = redact(row.reason)
                reason = reason if len(reason) <= 150 else reason[:149] + "…"
                reporter.write_line(
                    f"    {row.requirement.id:<12} {row.requirement.level.value:<6} {reason}"
                )
    latencies = results.latencies_ms() if results.mode is Mode.RECEIVER else []
    if latencies:
        ordered = sorted(latencies)
        p50 = ordered[len(ordered) // 2]
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        reporter.write_line(
            f"ack latency over {len(ordered)} valid deliveries: p50 {p50:.0f} ms, "
            f"p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms"
        )
    for note in results.notes:
        reporter.write_line(redact(note))
    verdict = results.verdict()
    claim = "" if results.conformance_claim() else (
        " (development mode: no conformance claim)" if results.development_mode
        else " (not every requirement ran: no full conformance claim)"
    )
    gate = "passes" if results.gate_passes(strict) else "fails"
    reporter.write_line(
        f"verdict: {verdict.value}{claim}; CI gate{' (strict)' if strict else ''} {gate}",
        **_MARKUP[verdict],
    )
