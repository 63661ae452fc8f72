"""Each deliberately flawed sender is flagged on the row of its flaw, and on no row its flaw
does not explain (the suite runs as a subprocess per flaw, judged from its JSON report)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from flawed_senders.flaws import FLAWS, command
from test_sender_mode import outcomes, run_suite

# The rows each flaw must fail: its own, and those that judge the same fact.
EXPECTED: dict[str, set[str]] = {
    "no-retry": {"SND-RETRY-01", "SND-RETRY-02", "SND-RETRY-05"},
    "constant-delay": {"SND-RETRY-05"},
    "zero-delay": {"SND-RETRY-05"},
    "new-id-per-attempt": {"SND-RETRY-03"},
    "different-bytes-per-attempt": {"SND-RETRY-03"},
    "attempt-after-success": {"SND-RETRY-04"},
    "no-retry-on-4xx": {"SND-RETRY-01"},
    "no-retry-on-timeout": {"SND-RETRY-02"},
    # SND-RETRY-03 requires a valid signature on every retry, too.
    "wrong-signature": {"SND-SIG-01", "SND-RETRY-03"},
    "uppercase-hex": {"SND-SIG-01", "SND-RETRY-03"},
    "wrong-header-name": {"SND-SIG-01", "SND-RETRY-03"},
    "wrong-content-type": {"SND-BODY-02"},
    "bad-envelope": {"SND-BODY-01"},
    "dropped-query-string": {"SND-BODY-03"},
    "delivers-to-http": {"SND-TLS-01"},
    "skips-certificate-verification": {"SND-TLS-02"},
    # It reports the Location's 200 as the endpoint's answer (which was a 307).
    "follows-redirects": {"SND-HTTP-02", "SND-HIST-01"},
    "no-timeout": {"SND-HTTP-01", "SND-RETRY-02"},
    "retries-forever": {"SND-RETRY-06"},
    "wrong-history": {"SND-HIST-01"},
}
# Rows a flaw leaves without evidence either way (reported not verified, never passed).
NOT_VERIFIED: dict[str, set[str]] = {
    "no-retry": {"SND-RETRY-03"},  # no retry at all: no retry to compare
}
PARALLEL_SUITES = 2


def test_every_flaw_has_an_expectation() -> None:
    assert set(EXPECTED) == set(FLAWS)


@pytest.fixture(scope="module")
def flawed_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root: Path = tmp_path_factory.mktemp("flawed")

    def run(flaw: str) -> tuple[str, dict[str, Any]]:
        _, report = run_suite(command(flaw), root / flaw)
        return flaw, report

    with ThreadPoolExecutor(max_workers=PARALLEL_SUITES) as pool:
        return dict(pool.map(run, list(FLAWS)))


@pytest.mark.slow
@pytest.mark.parametrize("flaw", list(FLAWS))
def test_flawed_sender_is_flagged_on_its_row(flaw: str,
                                             flawed_reports: dict[str, dict[str, Any]]) -> None:
    report = flawed_reports[flaw]
    rows = outcomes(report)
    failed = {row for row, outcome in rows.items() if outcome == "failed"}
    reasons = {row["id"]: row["reason"] for row in report["requirements"]
               if row["outcome"] != "passed"}
    assert failed == EXPECTED[flaw], reasons
    unverified = {row for row, outcome in rows.items() if outcome == "not-verified"}
    assert unverified == NOT_VERIFIED.get(flaw, set()), reasons
    must_failed = any(r["level"] == "MUST" for r in report["requirements"]
                      if r["id"] in failed)
    assert report["verdict"] == ("not-conformant" if must_failed
                                 else "conformant-with-warnings")
