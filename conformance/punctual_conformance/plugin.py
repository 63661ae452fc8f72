"""The pytest plugin (entry point ``punctual``): options, collection of the suite's checks,
result recording, the verdict, the reports and the CI gate.

Without ``--punctual-target`` or ``--punctual-sender-cmd`` the plugin only registers its
options and stays out of the way of the user's own tests.
"""

from __future__ import annotations

import importlib
import shlex
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest

from punctual_conformance.catalogue import Mode
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import NotVerified, Outcome, RequirementFailed
from punctual_conformance.results import CheckResult, RunResults, Verdict
from punctual_conformance.settings import (
    REFERENCE,
    TARGET,
    Settings,
    add_options,
    resolve_settings,
)
from punctual_conformance.state import (
    EVIDENCE_KEY,
    FACTS_KEY,
    RESULTS_KEY,
    SETTINGS_KEY,
    results_of,
)
from punctual_conformance.terminal import write_summary

CHECKS_DIR = Path(__file__).resolve().parent / "checks"

FIXTURE_MODULES = {
    Mode.RECEIVER: "punctual_conformance.fixtures",
    Mode.SENDER: "punctual_conformance.sender_fixtures",
}

# Checks that judge every valid delivery of the run go last, so they see all of them.
RUN_LAST = ("RCV-ACK-02", "RCV-ACK-03")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "punctual(requirement_id): a check of a Punctual Webhooks requirement"
    )
    settings = resolve_settings(config)
    if settings.mode is None:
        return
    if settings.mode is Mode.RECEIVER:
        _validate_target_url(settings)
    config.stash[SETTINGS_KEY] = settings
    redact = settings.secret.redact if settings.secret else str
    config.stash[RESULTS_KEY] = RunResults(
        mode=settings.mode,
        target=(settings.target if settings.mode is Mode.RECEIVER else settings.sender_cmd) or "",
        development_mode=settings.allow_http,
        command_line=redact(shlex.join(["pytest", *config.invocation_params.args])),
        seed=settings.seed,
    )
    # The suite's own checks are the run, from whatever directory pytest is started in.
    config.args[:] = [str(CHECKS_DIR / settings.mode.value)]
    fixtures = importlib.import_module(FIXTURE_MODULES[settings.mode])
    config.pluginmanager.register(fixtures, "punctual-fixtures")


def _validate_target_url(settings: Settings) -> None:
    if settings.target == REFERENCE:
        return
    parts = urlsplit(settings.target or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise pytest.UsageError(
            f"{TARGET.flag}: expected an http(s):// URL or the word 'reference', "
            f"got {settings.target!r}"
        )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if (
        SETTINGS_KEY in parent.config.stash
        and file_path.suffix == ".py"
        and not file_path.name.startswith("_")
        and CHECKS_DIR in file_path.parents
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def _requirement_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("punctual")
    return str(marker.args[0]) if marker else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SETTINGS_KEY not in config.stash:
        return
    items.sort(key=lambda item: _requirement_of(item) in RUN_LAST)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    requirement_id = _requirement_of(item)
    if requirement_id is None or RESULTS_KEY not in item.config.stash:
        return report
    if report.when == "call" or (report.when == "setup" and not report.passed):
        results_of(item.config).add(_check_result(item, call, report, requirement_id))
    if call.excinfo is not None and call.excinfo.errisinstance(RequirementFailed):
        # The check's code is not the news; what was expected and observed is (and a
        # message built from what a target sent passes through the redaction first).
        settings = item.config.stash[SETTINGS_KEY]
        redact = settings.secret.redact if settings.secret else str
        report.longrepr = redact(f"{requirement_id}: {call.excinfo.value}")
    return report


def _check_result(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport,
                  requirement_id: str) -> CheckResult:
    excinfo = call.excinfo
    if report.passed:
        outcome, message = Outcome.PASSED, ""
    elif excinfo is not None and excinfo.errisinstance(NotVerified):
        outcome, message = Outcome.NOT_VERIFIED, _reason(excinfo.value)
    elif report.skipped:
        outcome = Outcome.SKIPPED
        message = _reason(excinfo.value) if excinfo is not None else "skipped"
    elif excinfo is not None and excinfo.errisinstance(RequirementFailed):
        outcome, message = Outcome.FAILED, str(excinfo.value)
    else:
        outcome = Outcome.FAILED
        error = excinfo.value if excinfo is not None else None
        message = f"suite error in {report.when}: {type(error).__name__}: {error}"
    return CheckResult(
        requirement_id=requirement_id,
        nodeid=item.nodeid,
        outcome=outcome,
        message=message,
        duration_s=call.duration,
        evidence=_copy_of(item.stash.get(EVIDENCE_KEY, [])),
        facts=_copy_of(item.stash.get(FACTS_KEY, {})),
    )


T = TypeVar("T", list[Exchange], dict[str, Any])


def _copy_of(value: T) -> T:
    return value.copy()


def _reason(skip: BaseException) -> str:
    return str(getattr(skip, "msg", skip))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if RESULTS_KEY not in config.stash:
        return
    from datetime import datetime, timezone

    settings = config.stash[SETTINGS_KEY]
    results = results_of(config)
    results.finished = datetime.now(timezone.utc)
    redact = settings.secret.redact if settings.secret else str
    written: list[str] = []
    try:
        if settings.report_json:
            results.write_json(settings.report_json, redact)
            written.append(str(settings.report_json))
        if settings.report:
            from punctual_conformance.report_html import write_html_report

            write_html_report(results, settings.report, redact)
            written.append(str(settings.report))
    except OSError as error:
        sys.stderr.write(f"punctual: cannot write the report: {error}\n")
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        return
    results.notes.extend(f"report written: {path}" for path in written)
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        gate = results.gate_passes(settings.strict)
        session.exitstatus = pytest.ExitCode.OK if gate else pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    if RESULTS_KEY not in config.stash:
        return
    settings = config.stash[SETTINGS_KEY]
    redact = settings.secret.redact if settings.secret else str
    write_summary(terminalreporter, results_of(config), strict=settings.strict, redact=redact)


__all__ = ["CHECKS_DIR", "Verdict"]
