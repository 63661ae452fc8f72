"""SND-RETRY-*: failures are retried with the same event, exponentially, boundedly, and a 2xx
ends the delivery."""

from __future__ import annotations

from typing import Any

from punctual_conformance.checks import check
from punctual_conformance.checks.sender._support import (
    EVIDENCE_CAP,
    exchange_of,
    judge_backoff,
    parsed_body,
    run_facts,
    signature_problem,
)
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import expect, fail, not_verified
from punctual_conformance.secret import Secret
from punctual_conformance.sender_fixtures import (
    RETRY_STATUSES,
    CaptureRig,
    ScenarioRun,
)


def _show(run: ScenarioRun, secret: Secret, evidence: list[Exchange],
          facts: dict[str, Any]) -> None:
    evidence.extend(exchange_of(run, c, secret.reveal()) for c in run.captures[:EVIDENCE_CAP])
    facts.update(run_facts(run))


def _expect_retried(run: ScenarioRun, what: str) -> None:
    __tracebackhide__ = True
    if not run.captures:
        fail(f"a first attempt answered {what}, then a retry",
             f"no attempt arrived; the sender: {run.run.describe_exit()}")
    expect(len(run.captures) >= 2, f"a retry after {what}",
           f"one attempt only; the sender: {run.run.describe_exit()}")


@check("SND-RETRY-01", cases={str(code): code for code in RETRY_STATUSES})
def test_non_2xx_is_retried(case: int, punctual_scenarios: dict[str, ScenarioRun],
                            punctual_secret: Secret, punctual_evidence: list[Exchange],
                            punctual_facts: dict[str, Any]) -> None:
    run = punctual_scenarios[f"status-{case}"]
    _show(run, punctual_secret, punctual_evidence, punctual_facts)
    _expect_retried(run, f"a {case} answer")


@check("SND-RETRY-02", cases={"timeout": "timeout", "reset": "reset", "refused": "refused"})
def test_timeout_and_connection_errors_are_retried(
    case: str, punctual_scenarios: dict[str, ScenarioRun], punctual_secret: Secret,
    punctual_evidence: list[Exchange], punctual_facts: dict[str, Any],
) -> None:
    run = punctual_scenarios[case]
    _show(run, punctual_secret, punctual_evidence, punctual_facts)
    if case == "timeout":
        _expect_retried(run, "an answer held past the sender's timeout")
        return
    if case == "reset":
        _expect_retried(run, "a connection reset")
        return
    punctual_facts["port_listening_after_s"] = (
        None if run.listening_at is None else round(run.listening_at - run.run.started, 3))
    expected = "connection refused at first, then a retry once the port listens"
    if not run.captures:
        fail(expected, f"no attempt after the port began listening; the sender: "
             f"{run.run.describe_exit()}")
    refused = [r for r in run.reports if r.response_code is None and not r.delivered]
    if not run.listened_on_report or not refused:
        not_verified("the sender reported no failed attempt on stdout, so its refused first "
                     "attempt cannot be shown")
    punctual_facts["refused_attempts_reported"] = len(refused)


@check("SND-RETRY-03")
def test_retries_carry_the_same_event(punctual_scenarios: dict[str, ScenarioRun],
                                      punctual_secret: Secret,
                                      punctual_evidence: list[Exchange],
                                      punctual_facts: dict[str, Any]) -> None:
    secret = punctual_secret.reveal()
    judged, wrong = 0, []
    for run in punctual_scenarios.values():
        if len(run.captures) < 2:
            continue
        judged += 1
        first = run.captures[0]
        first_id = (parsed_body(first)[0] or {}).get("id")
        for capture in run.captures[1:]:
            problems = []
            if capture.body != first.body:
                problems.append("body differs from the first attempt's bytes")
            this_id = (parsed_body(capture)[0] or {}).get("id")
            if this_id != first_id:
                problems.append(f"id {this_id!r} instead of {first_id!r}")
            signature = signature_problem(capture, secret)
            if signature:
                problems.append(f"signature: {signature}")
            if problems:
                wrong.append(f"{run.name} attempt {capture.index}: {'; '.join(problems)}")
                if len(punctual_evidence) < EVIDENCE_CAP:
                    punctual_evidence.extend(exchange_of(run, c, secret)
                                             for c in (first, capture))
    punctual_facts["scenarios_with_retries"] = judged
    if judged == 0:
        not_verified("no scenario saw a second attempt, so there is no retry to compare "
                     "(SND-RETRY-01/02 say why)")
    expect(not wrong, "every retry: same id, byte-identical body, valid signature",
           f"{len(wrong)} retries differ", "\n".join(wrong[:10]))


@check("SND-RETRY-04")
def test_no_attempt_after_a_2xx(punctual_scenarios: dict[str, ScenarioRun],
                                punctual_secret: Secret, punctual_evidence: list[Exchange],
                                punctual_facts: dict[str, Any]) -> None:
    secret = punctual_secret.reveal()
    watched, wrong = {}, []
    for run in punctual_scenarios.values():
        success = run.success
        if success is None:
            continue
        watched[run.name] = round(run.grace_s, 3)
        after = [c for c in run.captures if c.index > success.index]
        if after or run.unrecorded:
            wrong.append(f"{run.name}: {len(after) + run.unrecorded} attempt(s) after the 2xx "
                         f"of attempt {success.index}")
            room = max(0, EVIDENCE_CAP - len(punctual_evidence))
            punctual_evidence.extend(exchange_of(run, c, secret)
                                     for c in (success, *after)[:room])
    punctual_facts["watched_after_2xx_s"] = watched
    if not watched:
        not_verified("no scenario reached a 2xx, so there is nothing to watch after one")
    expect(not wrong, "no further attempt after a 2xx (watched for max(1 s, 3x the largest "
           "gap))", "; ".join(wrong[:8]) + (f"; {len(wrong) - 8} more" if len(wrong) > 8
                                            else ""))


@check("SND-RETRY-05")
def test_backoff_is_exponential(punctual_scenarios: dict[str, ScenarioRun],
                                punctual_capture: CaptureRig, punctual_secret: Secret,
                                punctual_evidence: list[Exchange],
                                punctual_facts: dict[str, Any]) -> None:
    run = punctual_scenarios["backoff"]
    _show(run, punctual_secret, punctual_evidence, punctual_facts)
    if not run.captures:
        fail("attempts to judge the backoff of",
             f"no attempt arrived; the sender: {run.run.describe_exit()}")
    # Attempts after the 2xx are SND-RETRY-04's business, not part of the backoff.
    last = run.success.index if run.success is not None else len(run.captures)
    judgement = judge_backoff([c.arrived for c in run.captures[:last]], run.run.declaration,
                              run.time_scale, punctual_capture.slack_s)
    punctual_facts["backoff"] = judgement.facts
    for row, minimum in zip(punctual_facts["attempts"][1:], judgement.facts.get(
            "min_gaps_ms", []), strict=False):
        row["expected_min_gap_s"] = round(minimum / 1000, 4)
    punctual_facts["capture_timing_error"] = punctual_capture.timing.as_facts()
    problems, gaps = judgement.problems, judgement.facts["gaps_ms"]
    expect(not problems,
           "exponential backoff: the first retry not immediate, then "
           + str(judgement.facts.get("rule", "growing delays")),
           "; ".join(problems[:5]) + (f"; {len(problems) - 5} more" if len(problems) > 5
                                      else "")
           + f" (gaps {gaps[:20]}{' …' if len(gaps) > 20 else ''} ms)")


@check("SND-RETRY-06")
def test_attempts_are_bounded(punctual_scenarios: dict[str, ScenarioRun],
                              punctual_secret: Secret, punctual_evidence: list[Exchange],
                              punctual_facts: dict[str, Any]) -> None:
    run = punctual_scenarios["give-up"]
    _show(run, punctual_secret, punctual_evidence, punctual_facts)
    expected = "the sender gives up (exit 1) within the scenario's bound, reporting it"
    expect(run.run.exit_code == 1, expected,
           f"{run.run.describe_exit()} after {run.received} attempts")
    if run.reports:
        last = run.reports[-1]
        expect(last.final, 'the last attempt line carries "final": true', last.raw)
