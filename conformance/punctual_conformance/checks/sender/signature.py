"""SND-SIG-01: every attempt is signed over its raw body, lowercase hex, in Punctual-Signature."""

from __future__ import annotations

from typing import Any

from punctual_conformance.checks import check
from punctual_conformance.checks.sender._support import (
    EVIDENCE_CAP,
    exchange_of,
    exit_summary,
    signature_problem,
)
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import expect, fail
from punctual_conformance.secret import Secret
from punctual_conformance.sender_fixtures import ScenarioRun


@check("SND-SIG-01")
def test_every_attempt_is_signed(punctual_scenarios: dict[str, ScenarioRun],
                                 punctual_secret: Secret, punctual_evidence: list[Exchange],
                                 punctual_facts: dict[str, Any]) -> None:
    secret = punctual_secret.reveal()
    checked, wrong = 0, []
    for run in punctual_scenarios.values():
        for capture in run.captures:
            checked += 1
            problem = signature_problem(capture, secret)
            if problem is not None:
                wrong.append(f"{run.name} attempt {capture.index}: {problem}")
                if len(punctual_evidence) < EVIDENCE_CAP:
                    punctual_evidence.append(exchange_of(run, capture, secret))
            elif capture.index == 1 and len(punctual_evidence) < 3:
                punctual_evidence.append(exchange_of(run, capture, secret))
    punctual_facts["attempts_checked"] = checked
    if checked == 0:
        fail("signed attempts at the capture server",
             f"no attempt reached it; the sender: {exit_summary(punctual_scenarios)}")
    expect(not wrong, "every attempt signed: Punctual-Signature = lowercase hex "
           "HMAC-SHA256(secret, raw body)", f"{len(wrong)} of {checked} attempts wrong",
           "; ".join(wrong[:10]))
