"""SND-HTTP-*: every attempt has a timeout, and redirects are not followed."""

from __future__ import annotations

from typing import Any

from punctual_conformance.checks import check
from punctual_conformance.checks.sender._support import EVIDENCE_CAP, exchange_of, run_facts
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import expect, fail
from punctual_conformance.secret import Secret
from punctual_conformance.sender_fixtures import ScenarioRun


@check("SND-HTTP-01")
def test_attempts_time_out(punctual_scenarios: dict[str, ScenarioRun], punctual_secret: Secret,
                           punctual_evidence: list[Exchange],
                           punctual_facts: dict[str, Any]) -> None:
    run = punctual_scenarios["timeout"]
    punctual_evidence.extend(exchange_of(run, c, punctual_secret.reveal())
                             for c in run.captures[:EVIDENCE_CAP])
    punctual_facts.update(run_facts(run))
    if not run.captures:
        fail("an attempt to hold", f"no attempt arrived; the sender: {run.run.describe_exit()}")
    held = run.captures[0]
    # A hang-up counts only while the sender ran on its own: killing it closes the socket too.
    ended = held.client_closed
    if ended is not None and run.run.exit_code is None and ended >= run.run.ended:
        ended = None
    if ended is None and len(run.captures) > 1:
        ended = run.captures[1].arrived
    if ended is None and run.run.exit_code is not None:
        ended = run.run.ended
    if ended is not None:
        punctual_facts["sender_gave_up_the_held_attempt_after_s"] = round(ended - held.arrived, 3)
    expect(ended is not None, "the sender abandons an attempt that gets no answer (a timeout)",
           f"the held attempt was still open when the scenario ended: "
           f"{run.run.describe_exit()}")


@check("SND-HTTP-02")
def test_redirects_are_not_followed(punctual_scenarios: dict[str, ScenarioRun],
                                    punctual_secret: Secret, punctual_evidence: list[Exchange],
                                    punctual_facts: dict[str, Any]) -> None:
    run = punctual_scenarios["redirect"]
    secret = punctual_secret.reveal()
    punctual_evidence.extend(exchange_of(run, c, secret) for c in run.captures[:EVIDENCE_CAP])
    punctual_evidence.extend(exchange_of(run, c, secret, label=f"{run.name}: followed the "
                                         "redirect to its Location") for c in
                             run.location_captures[:EVIDENCE_CAP])
    punctual_facts.update(run_facts(run))
    if not run.captures:
        fail("an attempt to redirect",
             f"no attempt arrived; the sender: {run.run.describe_exit()}")
    expect(run.location_received == 0, "the Location of a 3xx receives nothing",
           f"{run.location_received} request(s) followed the redirect")
    first_reported = run.reports[0] if run.reports else None
    expect(first_reported is None or not first_reported.delivered,
           "the redirected attempt counts as failed", first_reported.raw
           if first_reported else "")
    delivered_by_2xx = run.success is not None
    expect(run.run.exit_code != 0 or delivered_by_2xx,
           "no delivery claimed on a redirect (exit 0 only after a 2xx)",
           run.run.describe_exit())
