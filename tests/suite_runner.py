"""Run the conformance suite as a user would: ``python -m pytest --punctual-… `` in a fresh,
empty folder, and read back its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUITE_TIMEOUT_S = 300
TESTS = Path(__file__).resolve().parent

# Third-party pytest plugins installed beside the suite that it does not use. Loading them
# costs about 1.2 s of CPU per pytest start (schemathesis and hypothesis import themselves as
# plugins); the project's tests start the suite some 150 times on a 2-core machine. A few
# runs (test_receiver_mode, test_wheel, the README commands) keep the default set.
# Every suite the tests start talks to loopback only, and resolves no names (tests/loopback_only).
LOOPBACK_ONLY = ("-p", "loopback_only")
UNUSED_PLUGINS = ("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:anyio",
                  "-p", "no:pytest_httpserver")


@dataclass
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] = field(default_factory=dict)
    workdir: Path = Path()

    def outcomes(self) -> dict[str, str]:
        return {row["id"]: row["outcome"] for row in self.report.get("requirements", [])}

    def failed(self) -> set[str]:
        return {rid for rid, outcome in self.outcomes().items() if outcome == "failed"}

    def explain(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-6000:]}\n--- stderr\n" \
               f"{self.stderr[-3000:]}"


def run_suite(workdir: Path, *args: str, secret: str | None = "test-secret",
              env: dict[str, str] | None = None, html: bool = False,
              all_plugins: bool = False) -> SuiteRun:
    workdir.mkdir(parents=True, exist_ok=True)
    report = workdir / "report.json"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *LOOPBACK_ONLY,
               *(() if all_plugins else UNUSED_PLUGINS),
               "--punctual-report-json", str(report), *args]
    if html:
        command += ["--punctual-report", str(workdir / "report.html")]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PUNCTUAL_")}
    environment.pop("PYTEST_ADDOPTS", None)
    if secret is not None:
        environment["PUNCTUAL_WEBHOOK_SECRET"] = secret
    # python:module:function senders of the tests (flawed_senders, …) import from tests/.
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    environment.update(env or {})
    completed = subprocess.run(command, cwd=workdir, env=environment, capture_output=True,
                               text=True, timeout=SUITE_TIMEOUT_S, check=False)
    parsed = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return SuiteRun(completed.returncode, completed.stdout, completed.stderr, parsed, workdir)
