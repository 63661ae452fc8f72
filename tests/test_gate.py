"""The CI gate: exit 0 unless a MUST row failed; --punctual-strict also fails on SHOULD
failures and not-verified rows. JUnit XML names each requirement."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from flawed_receivers import BadSignature401, BadSignature500
from punctual_conformance.reference_receiver import ReferenceReceiver
from suite_runner import SuiteRun, run_suite

SIGNATURE_ROWS = ["-k", "RCV-SIG"]  # enough rows for the gate, and quick


def run_against(receiver_class: type[ReferenceReceiver], workdir: Path, *extra: str,
                observer: bool = True) -> SuiteRun:
    with receiver_class("gate-secret") as receiver:
        assert receiver.ca_bundle is not None
        args = ["--punctual-target", receiver.url, "--punctual-ca-bundle",
                str(receiver.ca_bundle), *SIGNATURE_ROWS, *extra]
        if observer:
            args += ["--punctual-observer", receiver.observer_url]
        return run_suite(workdir, *args, secret="gate-secret")


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_a_must_failure_fails_the_gate(tmp_path: Path, strict: bool) -> None:
    run = run_against(BadSignature500, tmp_path, *(["--punctual-strict"] if strict else []))
    assert run.report["verdict"] == "not-conformant"
    assert run.returncode == 1, run.explain()
    assert "CI gate" in run.stdout and "fails" in run.stdout


@pytest.mark.parametrize(("strict", "exit_code"), [(False, 0), (True, 1)],
                         ids=["default", "strict"])
def test_a_should_failure_fails_only_the_strict_gate(tmp_path: Path, strict: bool,
                                                     exit_code: int) -> None:
    run = run_against(BadSignature401, tmp_path, *(["--punctual-strict"] if strict else []))
    assert run.report["verdict"] == "conformant-with-warnings"
    assert run.failed() == {"RCV-SIG-07"}, run.explain()
    assert run.returncode == exit_code, run.explain()


@pytest.mark.parametrize(("strict", "exit_code"), [(False, 0), (True, 1)],
                         ids=["default", "strict"])
def test_not_verified_rows_fail_only_the_strict_gate(tmp_path: Path, strict: bool,
                                                     exit_code: int) -> None:
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(scope='session')\n"
        "def punctual_processed_count():\n    return None\n", encoding="utf-8")
    run = run_against(ReferenceReceiver, tmp_path, *(["--punctual-strict"] if strict else []),
                      observer=False)
    assert run.outcomes()["RCV-SIG-08"] == "not-verified"
    assert run.report["verdict"] == "conformant-with-warnings"
    assert run.returncode == exit_code, run.explain()


def test_a_conformant_run_passes_the_strict_gate(tmp_path: Path) -> None:
    run = run_against(ReferenceReceiver, tmp_path, "--punctual-strict")
    assert run.report["verdict"] == "conformant"
    assert run.returncode == 0, run.explain()


def test_junit_names_every_requirement_case(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    run = run_against(BadSignature500, tmp_path, "--junitxml", str(junit))
    cases = {case.get("name", ""): case  # our own JUnit file, not untrusted input
             for case in ElementTree.parse(junit).iter("testcase")}  # noqa: S314
    assert any(name.endswith("[RCV-SIG-06]") for name in cases), sorted(cases)
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert failed == {n for n in cases if n.endswith(("[RCV-SIG-06]", "[RCV-SIG-07]"))}
    message = next(c for n, c in cases.items() if n.endswith("[RCV-SIG-06]")).find("failure")
    assert message is not None and "Expected:" in (message.get("message") or "")
    assert run.returncode == 1
