"""The receiver mode end to end: the suite against the bundled reference receiver."""

from __future__ import annotations

from pathlib import Path

import pytest

from punctual_conformance.catalogue import RECEIVER_REQUIREMENTS, Level
from suite_runner import SuiteRun, run_suite

SECRET = "s3cr3t-Zq9-distinctive-🔑"


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    workdir = tmp_path_factory.mktemp("reference-run")
    return run_suite(workdir, "--punctual-target", "reference", "--junitxml",
                     str(workdir / "junit.xml"), secret=SECRET, html=True, all_plugins=True)


def test_reference_receiver_is_conformant(reference_run: SuiteRun) -> None:
    assert reference_run.returncode == 0, reference_run.explain()
    assert reference_run.report["verdict"] == "conformant"
    assert "verdict: conformant" in reference_run.stdout


def test_every_row_appears_once_and_passes(reference_run: SuiteRun) -> None:
    ids = [row["id"] for row in reference_run.report["requirements"]]
    assert ids == [r.id for r in RECEIVER_REQUIREMENTS]
    not_passed = {rid: o for rid, o in reference_run.outcomes().items() if o != "passed"}
    assert not_passed == {}, reference_run.explain()


def test_observer_rows_were_really_verified(reference_run: SuiteRun) -> None:
    for row in reference_run.report["requirements"]:
        if row["id"] in ("RCV-SIG-08", "RCV-IDEM-02", "RCV-IDEM-03", "RCV-IDEM-04"):
            assert row["outcome"] == "passed"
            assert all(c["outcome"] == "passed" for c in row["checks"])


def test_report_core_fields(reference_run: SuiteRun) -> None:
    report = reference_run.report
    assert report["profile"] == "punctual-webhooks/v1"
    assert report["mode"] == "receiver"
    assert report["target"].startswith("reference receiver at https://127.0.0.1:")
    for row in report["requirements"]:
        assert row["level"] in {level.value for level in Level}
        assert row["outcome"] in {"passed", "failed", "not-verified", "skipped"}
        assert row["title"]


def test_test_ids_carry_requirement_ids(reference_run: SuiteRun) -> None:
    junit = (reference_run.workdir / "junit.xml").read_text(encoding="utf-8")
    for requirement in RECEIVER_REQUIREMENTS:
        assert f"[{requirement.id}" in junit


def test_secret_appears_nowhere(reference_run: SuiteRun) -> None:
    outputs = [reference_run.stdout, reference_run.stderr]
    outputs += [p.read_text(encoding="utf-8") for p in reference_run.workdir.iterdir()
                if p.is_file()]
    assert len(outputs) >= 5  # stdout, stderr, JSON, HTML and JUnit reports
    for text in outputs:
        assert SECRET not in text


def test_without_observer_rows_are_not_verified(tmp_path: Path) -> None:
    # The reference receiver's observer is replaced by a conftest override returning None.
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(scope='session')\n"
        "def punctual_processed_count():\n    return None\n", encoding="utf-8")
    run = run_suite(tmp_path, "--punctual-target", "reference", "-k", "RCV-IDEM or RCV-SIG-08")
    outcomes = run.outcomes()
    for rid in ("RCV-SIG-08", "RCV-IDEM-02", "RCV-IDEM-03", "RCV-IDEM-04"):
        assert outcomes[rid] == "not-verified", run.explain()
    assert run.report["verdict"] == "conformant-with-warnings"
    assert run.returncode == 0  # not-verified never fails the default gate


def test_fixture_override_counts_side_effects(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(scope='session')\n"
        "def punctual_processed_count():\n    return lambda event_id: 2\n", encoding="utf-8")
    run = run_suite(tmp_path, "--punctual-target", "reference", "-k", "RCV-IDEM-02")
    assert run.outcomes()["RCV-IDEM-02"] == "failed", run.explain()
    assert "processed 2 times" in run.stdout


def test_selection_by_requirement_area(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--punctual-target", "reference", "-k", "RCV-SIG")
    ran = {rid for rid, outcome in run.outcomes().items() if outcome != "skipped"}
    assert ran == {r.id for r in RECEIVER_REQUIREMENTS if r.id.startswith("RCV-SIG")}
    assert run.report["conformance_claim"] is False


@pytest.mark.parametrize(
    ("args", "secret", "message"),
    [
        (["--punctual-target", "https://127.0.0.1:9/webhook"], None, "PUNCTUAL_WEBHOOK_SECRET"),
        (["--punctual-target", "not a url"], "x", "expected an http(s):// URL"),
        (["--punctual-target", "reference", "--punctual-ack-timeout", "soon"], "x",
         "expected a number"),
        (["--punctual-target", "reference", "--punctual-sender-cmd", "reference"], "x",
         "exclude each other"),
        (["--punctual-target", "reference", "--punctual-ca-bundle", "/nonexistent.pem"], "x",
         "no such file"),
    ],
    ids=["missing-secret", "bad-url", "bad-timeout", "both-modes", "missing-ca-bundle"],
)
def test_usage_errors_are_clear(tmp_path: Path, args: list[str], secret: str | None,
                                message: str) -> None:
    run = run_suite(tmp_path, *args, secret=secret)
    assert run.returncode == 4, run.explain()  # pytest's usage-error exit code
    assert message in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
