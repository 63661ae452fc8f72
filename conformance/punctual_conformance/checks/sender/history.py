"""SND-HIST-01: the attempts a sender reports match what the receiver answered, and the
delivery states follow the product page."""

from __future__ import annotations

from typing import Any

from punctual_conformance.checks import check
from punctual_conformance.checks.sender._support import REPORTED_CAP
from punctual_conformance.outcomes import expect, not_verified
from punctual_conformance.sender_fixtures import ScenarioRun

STATES = ("pending", "retrying", "failed", "delivered")


def history_problems(run: ScenarioRun) -> list[str]:
    reports = run.reports
    problems: list[str] = []
    for report in reports:
        problems.extend(f"line {report.raw!r}: {p}" for p in report.problems)
        if report.status is not None and report.status not in STATES:
            problems.append(f"attempt {report.attempt}: unknown status {report.status!r}")
        code = report.response_code
        if code is not None and 200 <= code < 300 and report.status != "delivered":
            problems.append(f"attempt {report.attempt}: {code} recorded as {report.status!r}")
        if (code is None or not 200 <= code < 300) and report.status == "delivered":
            problems.append(f"attempt {report.attempt}: 'delivered' without a 2xx "
                            f"(response_code {code})")
    numbers = [r.attempt for r in reports]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"attempt numbers {numbers} (expected 1, 2, 3 …)")
    reported = [r.response_code for r in reports if r.response_code is not None]
    answered = [c.status for c in run.captures if c.status is not None]
    if reported != answered:
        problems.append(f"recorded response codes {_short(reported)}, the receiver answered "
                        f"{_short(answered)}")
    if run.run.exit_code == 0 and reports and not reports[-1].delivered:
        problems.append("exit 0 (delivered) but the last attempt is not 'delivered'")
    if run.run.exit_code == 1 and reports and not reports[-1].final:
        problems.append('exit 1 (gave up) but the last attempt line has no "final": true')
    return problems


@check("SND-HIST-01")
def test_reported_history_matches(punctual_scenarios: dict[str, ScenarioRun],
                                  punctual_facts: dict[str, Any]) -> None:
    with_reports = [run for run in punctual_scenarios.values() if run.reports]
    garbage = {run.name: run.run.garbage for run in punctual_scenarios.values()
               if run.run.garbage}
    if garbage:
        punctual_facts["unparsed_stdout_lines"] = garbage
    if not with_reports:
        not_verified("the sender prints no attempt lines on stdout (section 5), so there is "
                     "no history to compare")
    wrong = {run.name: problems for run in with_reports
             if (problems := history_problems(run))}
    punctual_facts["scenarios_compared"] = len(with_reports)
    punctual_facts["reported"] = {run.name: [r.raw for r in run.reports[:REPORTED_CAP]]
                                  for run in with_reports}
    expect(not wrong, "reported response codes equal the receiver's answers; delivered "
           "after a 2xx only; final failure after give-up",
           f"{len(wrong)} of {len(with_reports)} scenarios differ",
           "\n".join(f"{name}: {'; '.join(p[:5])}" + (f"; {len(p) - 5} more" if len(p) > 5
                                                       else "")
                     for name, p in list(wrong.items())[:8]))


def _short(codes: list[int]) -> str:
    return str(codes) if len(codes) <= 20 else f"{codes[:20]} … ({len(codes)} in all)"
