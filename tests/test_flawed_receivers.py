"""Every check must fail on a known-bad receiver and pass on a known-good one.

For each flaw of :mod:`flawed_receivers` the suite runs (as a user runs it, in a subprocess)
against that receiver, started in-process on 127.0.0.1 with its own ephemeral CA and observer;
the set of failed rows must be exactly the set the flaw explains, every other row must pass.
Correct receivers that acknowledge with 202, or with 204 and no body, must come out conformant.
(The reference receiver itself is checked in test_receiver_mode.py.)

The runs are independent subprocesses, so the selected ones are started up front, two at a
time, and each test waits for its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from background_runs import background_runs, selected
from flawed_receivers import CONTROLS, FLAWS, Flaw, suite_arguments
from punctual_conformance.catalogue import RECEIVER_REQUIREMENTS, Level
from suite_runner import SuiteRun, run_suite

SECRET = "whsec_flawed-receivers-Kp4"
LEVELS = {r.id: r.level for r in RECEIVER_REQUIREMENTS}


def _start_flaw(name: str, workdir: Path) -> SuiteRun:
    flaw = FLAWS[name]
    receiver = flaw.factory(SECRET)
    # suite_arguments needs the running receiver's URL: start it first, the run stops it.
    receiver.start()
    try:
        args = suite_arguments(receiver, trust_ca=flaw.trust_ca, examples=flaw.examples,
                               extra=flaw.suite_args)
        return run_suite(workdir, *args, secret=SECRET)
    finally:
        receiver.stop()


def _start_control(name: str, workdir: Path) -> SuiteRun:
    receiver = CONTROLS[name].factory(SECRET)
    receiver.start()
    try:
        return run_suite(workdir, *suite_arguments(receiver), secret=SECRET)
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def suite_runs(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[SuiteRun]]]:
    """Every selected flaw's and control's run, started in the background."""
    jobs: dict[str, Callable[[Path], SuiteRun]] = {
        name: functools.partial(_start_flaw, name) for name in selected(request, "flaw_name")
    }
    jobs.update({name: functools.partial(_start_control, name)
                 for name in selected(request, "control_name")})
    with background_runs(jobs, tmp_path_factory, "suite-run") as futures:
        yield futures


def _rows(run: SuiteRun) -> str:
    return "\n".join(f"  {row['id']:<12} {row['outcome']:<13} {row['reason'][:160]}"
                     for row in run.report.get("requirements", []))


def _expected_verdict(failed: set[str], not_verified: set[str]) -> tuple[str, int]:
    """The verdict and exit code the profile gives these outcomes (default, non-strict gate)."""
    if any(LEVELS[rid] is Level.MUST for rid in failed):
        return "not-conformant", 1
    if any(LEVELS[rid] is not Level.INFO for rid in failed | not_verified):
        return "conformant-with-warnings", 0
    return "conformant", 0


# -- the registry itself ---------------------------------------------------------------------


def test_every_receiver_row_is_failed_by_some_flaw() -> None:
    failed_somewhere = set().union(*(flaw.expected_failures for flaw in FLAWS.values()))
    assert failed_somewhere == set(LEVELS)


@pytest.mark.parametrize("flaw_name", list(FLAWS))
def test_flaw_entry_is_well_formed(flaw_name: str) -> None:
    flaw = FLAWS[flaw_name]
    assert flaw.target in LEVELS
    assert flaw.description.strip()
    for rid, why in {**flaw.also_fails, **flaw.not_verified}.items():
        assert rid in LEVELS and rid != flaw.target and why.strip(), rid
    assert not set(flaw.also_fails) & set(flaw.not_verified)


# -- the runs --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("flaw_name", list(FLAWS))
def test_flaw_fails_exactly_the_rows_it_explains(
    flaw_name: str, suite_runs: dict[str, Future[SuiteRun]]
) -> None:
    flaw: Flaw = FLAWS[flaw_name]
    run = suite_runs[flaw_name].result()
    outcomes = run.outcomes()
    context = (f"flaw {flaw_name!r} ({flaw.description.strip()})\n"
               f"expected to fail: {sorted(flaw.expected_failures)}\n{_rows(run)}\n"
               f"{run.explain()}")
    assert list(outcomes) == list(LEVELS), context  # every row, once, in catalogue order

    failed = run.failed()
    assert failed == flaw.expected_failures, (
        f"unexplained failures: {sorted(failed - flaw.expected_failures)}; "
        f"missed: {sorted(flaw.expected_failures - failed)}\n{context}")
    not_verified = {rid for rid, outcome in outcomes.items() if outcome == "not-verified"}
    assert not_verified == set(flaw.not_verified), context
    passed = {rid for rid, outcome in outcomes.items() if outcome == "passed"}
    assert passed == set(LEVELS) - failed - not_verified, context

    for row in run.report["requirements"]:
        if row["outcome"] == "failed":
            assert row["reason"].strip(), f"{row['id']} failed without a reason\n{context}"
    verdict, returncode = _expected_verdict(failed, not_verified)
    assert run.report["verdict"] == verdict, context
    assert run.returncode == returncode, context
    assert "Traceback" not in run.stdout + run.stderr, context


@pytest.mark.slow
@pytest.mark.parametrize("control_name", list(CONTROLS))
def test_correct_receiver_is_conformant(
    control_name: str, suite_runs: dict[str, Future[SuiteRun]]
) -> None:
    run = suite_runs[control_name].result()
    context = f"{CONTROLS[control_name].description}\n{_rows(run)}\n{run.explain()}"
    assert run.returncode == 0, context
    assert run.report["verdict"] == "conformant", context
    not_passed = {rid: o for rid, o in run.outcomes().items() if o != "passed"}
    assert not_passed == {}, context
    assert list(run.outcomes()) == list(LEVELS), context
