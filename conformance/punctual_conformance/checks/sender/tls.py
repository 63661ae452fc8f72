"""SND-TLS-*: HTTPS only, and only to a certificate that verifies."""

from __future__ import annotations

from typing import Any

from punctual_conformance.checks import check
from punctual_conformance.checks.sender._support import EVIDENCE_CAP, exchange_of, run_facts
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import expect, not_verified
from punctual_conformance.secret import Secret
from punctual_conformance.sender_fixtures import ScenarioRun


def _show(run: ScenarioRun, secret: Secret, evidence: list[Exchange],
          facts: dict[str, Any]) -> None:
    evidence.extend(exchange_of(run, c, secret.reveal()) for c in run.captures[:EVIDENCE_CAP])
    facts.update(run_facts(run))
    facts["connections_to_this_listener"] = run.server.connections
    facts["rejected_connections"] = [r.reason for r in run.server.rejected][:10]


@check("SND-TLS-01")
def test_http_endpoint_is_refused(punctual_scenarios: dict[str, ScenarioRun],
                                  punctual_secret: Secret, punctual_evidence: list[Exchange],
                                  punctual_facts: dict[str, Any]) -> None:
    run = punctual_scenarios["http-endpoint"]
    _show(run, punctual_secret, punctual_evidence, punctual_facts)
    expect(run.received == 0, "no request reaches a plain-HTTP listener",
           f"{run.received} request(s) delivered over plain http://")
    expect(run.run.exit_code == 2, "the sender reports the refusal (exit 2)",
           run.run.describe_exit())


@check("SND-TLS-02")
def test_untrusted_certificate_is_refused(punctual_scenarios: dict[str, ScenarioRun],
                                          punctual_secret: Secret,
                                          punctual_evidence: list[Exchange],
                                          punctual_facts: dict[str, Any]) -> None:
    run = punctual_scenarios["untrusted-cert"]
    _show(run, punctual_secret, punctual_evidence, punctual_facts)
    expect(run.received == 0, "nothing delivered to a certificate from an untrusted CA",
           f"{run.received} request(s) sent despite the untrusted certificate")
    delivered = [r for r in run.reports if r.delivered]
    expect(run.run.exit_code != 0 and not delivered, "nothing reported delivered",
           f"{run.run.describe_exit()}; {len(delivered)} attempt line(s) say delivered")
    if run.server.connections == 0:
        # Nothing delivered because nothing was tried (a sender that hangs or crashes): the
        # certificate check was never exercised.
        not_verified("the sender never connected to the untrusted listener, so its "
                     f"certificate check was not exercised; the sender: "
                     f"{run.run.describe_exit()}")
