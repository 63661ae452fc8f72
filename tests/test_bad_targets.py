"""Bad targets get clear results, never a hang or a traceback.

Unreachable host, refused connection, TLS failures, a target that never answers, a response
that never ends, a redirect elsewhere (never followed): for each, the suite (run as a user
runs it) finishes within a bound, exits 1 (not conformant), writes the JSON report with every
row, gives failing rows a reason that names the problem, prints no traceback, and the target's
threads are all stopped afterwards. The runs start up front, a few at a time (most of their
time is spent waiting on timeouts), and each test waits for its own.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from background_runs import background_runs, selected
from bad_targets import (
    AnswersEverything,
    RawTarget,
    RedirectsElsewhere,
    SilentAfterHandshake,
    SilentTcp,
    SpeaksPlainHttp,
    TricklesBody,
    refused_port,
)
from punctual_conformance.catalogue import RECEIVER_REQUIREMENTS
from punctual_conformance.tls import EphemeralCA
from suite_runner import SuiteRun, run_suite

pytestmark = pytest.mark.slow

SECRET = "whsec_bad-targets-Vv2"
BOUND_S = 60.0  # a bound on a whole run, not a speed target (most take 5-20 s)
ROW_IDS = [r.id for r in RECEIVER_REQUIREMENTS]
FAILED, NOT_VERIFIED = "failed", "not-verified"


@dataclass
class Setup:
    url: str
    args: list[str] = field(default_factory=list)
    targets: list[RawTarget] = field(default_factory=list)  # all must stop cleanly
    must_stay_idle: list[RawTarget] = field(default_factory=list)  # never contacted


@dataclass(frozen=True)
class Case:
    setup: Callable[[contextlib.ExitStack, EphemeralCA, Path], Setup]
    #: row -> (its outcome, texts its reason must contain, separated by "|", any case)
    reasons: dict[str, tuple[str, str]]
    ack_timeout: str = "1"


def _started(stack: contextlib.ExitStack, target: RawTarget) -> RawTarget:
    return stack.enter_context(target)


def _with_ca(bundle: Path) -> list[str]:
    return ["--punctual-ca-bundle", str(bundle)]


def _refused(stack: contextlib.ExitStack, ca: EphemeralCA, bundle: Path) -> Setup:
    return Setup(f"https://127.0.0.1:{refused_port()}/webhook")


def _unknown_host(stack: contextlib.ExitStack, ca: EphemeralCA, bundle: Path) -> Setup:
    # .invalid never resolves (RFC 6761); tests/loopback_only answers "not known" at once,
    # without asking any resolver.
    return Setup("https://nonexistent.invalid/webhook")


def _silent_tcp(stack: contextlib.ExitStack, ca: EphemeralCA, bundle: Path) -> Setup:
    target = _started(stack, SilentTcp())
    return Setup(target.url(), _with_ca(bundle), [target])


def _silent_https(stack: contextlib.ExitStack, ca: EphemeralCA, bundle: Path) -> Setup:
    target = _started(stack, SilentAfterHandshake(tls=ca.server_context()))
    return Setup(target.url(), _with_ca(bundle), [target])


def _trickles(stack: contextlib.ExitStack, ca: EphemeralCA, bundle: Path) -> Setup:
    target = _started(stack, TricklesBody(tls=ca.server_context()))
    return Setup(target.url(), _with_ca(bundle), [target])


def _redirects(stack: contextlib.ExitStack, ca: EphemeralCA, bundle: Path) -> Setup:
    elsewhere = _started(stack, AnswersEverything(tls=ca.server_context()))
    target = _started(stack, RedirectsElsewhere(elsewhere.url(), tls=ca.server_context()))
    return Setup(target.url(), _with_ca(bundle), [target, elsewhere], [elsewhere])


def _untrusted(stack: contextlib.ExitStack, ca: EphemeralCA, bundle: Path) -> Setup:
    other_ca = EphemeralCA()  # the suite is given `bundle`, not this CA
    target = _started(stack, AnswersEverything(tls=other_ca.server_context()))
    return Setup(target.url(), _with_ca(bundle), [target])


def _plain_on_tls_port(stack: contextlib.ExitStack, ca: EphemeralCA, bundle: Path) -> Setup:
    target = _started(stack, SpeaksPlainHttp())
    return Setup(target.url(), _with_ca(bundle), [target])


CASES: dict[str, Case] = {
    "refused-connection": Case(_refused, {
        "RCV-ACK-01": (FAILED, "connection refused"),
        "RCV-SIG-01": (FAILED, "connection refused"),
        "RCV-TLS-02": (NOT_VERIFIED, "connection refused"),
    }),
    "unknown-host": Case(_unknown_host, {
        "RCV-ACK-01": (FAILED, "cannot connect"),
        "RCV-TLS-02": (NOT_VERIFIED, "cannot connect"),
    }),
    "silent-tcp": Case(_silent_tcp, {
        "RCV-ACK-01": (FAILED, "connect|within 2 s"),
        "RCV-ACK-02": (FAILED, "late or unanswered"),
        "RCV-SIG-01": (FAILED, "not sent|unanswered"),
        "RCV-TLS-02": (NOT_VERIFIED, "connect|within 2 s"),
    }),
    "silent-after-handshake": Case(_silent_https, {
        "RCV-ACK-01": (FAILED, "response|within 2 s"),
        "RCV-ACK-02": (FAILED, "late or unanswered"),
        "RCV-SIG-01": (FAILED, "not sent|unanswered"),
    }),
    # A 200 whose body never ends is no acknowledgement, and counts as unanswered.
    "trickling-body": Case(_trickles, {
        "RCV-ACK-01": (FAILED, "then timed out"),
        "RCV-ACK-02": (FAILED, "late or unanswered"),
        "RCV-SIG-01": (FAILED, "not sent|unanswered"),
    }),
    "redirect-elsewhere": Case(_redirects, {
        "RCV-ACK-01": (FAILED, "307"),
        "RCV-ACK-03": (FAILED, "307 Location: https://127.0.0.1:"),
    }),
    "untrusted-certificate": Case(_untrusted, {
        "RCV-TLS-02": (FAILED, "TLS certificate verification failed"),
    }),
    "plain-http-on-tls-port": Case(_plain_on_tls_port, {
        "RCV-ACK-01": (FAILED, "TLS handshake failed"),
        "RCV-TLS-02": (FAILED, "TLS handshake failed"),
    }),
}


@dataclass
class BadRun:
    run: SuiteRun
    elapsed_s: float
    setup: Setup
    leftover_threads: list[str]


def _run_case(name: str, workdir: Path) -> BadRun:
    case = CASES[name]
    ca = EphemeralCA()
    bundle = ca.write_ca_bundle(workdir)
    with contextlib.ExitStack() as stack:
        setup = case.setup(stack, ca, bundle)
        started = time.monotonic()
        run = run_suite(workdir / "run", "--punctual-target", setup.url, *setup.args,
                        "--punctual-ack-timeout", case.ack_timeout, "--punctual-examples", "2",
                        secret=SECRET)
        elapsed = time.monotonic() - started
    # The ExitStack stopped every target: none of their threads may still run.
    leftover = [t.name for target in setup.targets for t in target.leftover_threads]
    return BadRun(run, elapsed, setup, leftover)


@pytest.fixture(scope="module")
def bad_runs(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[BadRun]]]:
    jobs = {name: functools.partial(_run_case, name) for name in selected(request, "case_name")}
    with background_runs(jobs, tmp_path_factory, "bad-target-run") as futures:
        yield futures


def _context(name: str, bad: BadRun) -> str:
    rows = "\n".join(f"  {row['id']:<12} {row['outcome']:<13} {row['reason'][:160]}"
                     for row in bad.run.report.get("requirements", []))
    return f"{name}: {bad.elapsed_s:.1f} s\n{rows}\n{bad.run.explain()}"


@pytest.mark.parametrize("case_name", list(CASES))
def test_bad_target_gets_clear_results(case_name: str,
                                       bad_runs: dict[str, Future[BadRun]]) -> None:
    bad = bad_runs[case_name].result()
    run, context = bad.run, _context(case_name, bad)
    assert bad.elapsed_s < BOUND_S, context
    assert run.returncode == 1, context
    assert run.report, f"no JSON report written\n{context}"
    assert run.report["verdict"] == "not-conformant", context
    assert [row["id"] for row in run.report["requirements"]] == ROW_IDS, context
    assert "Traceback" not in run.stdout + run.stderr, context
    for row in run.report["requirements"]:
        if row["outcome"] in (FAILED, NOT_VERIFIED):
            assert row["reason"].strip(), f"{row['id']} has no reason\n{context}"
    reasons = {row["id"]: (row["outcome"], row["reason"]) for row in run.report["requirements"]}
    for rid, (outcome, text) in CASES[case_name].reasons.items():
        assert reasons[rid][0] == outcome, f"{rid}: {reasons[rid]}\n{context}"
        for part in text.split("|"):
            assert part.lower() in reasons[rid][1].lower(), f"{rid}: {reasons[rid]}\n{context}"
    assert bad.leftover_threads == [], context
    for idle in bad.setup.must_stay_idle:
        assert idle.connections_accepted == 0, f"a redirect was followed\n{context}"


def test_no_thread_of_the_targets_survives(bad_runs: dict[str, Future[BadRun]]) -> None:
    for future in bad_runs.values():
        future.result()
    names = [t.name for t in threading.enumerate()]
    survivors = [n for n in names
                 if n.split(":")[0] in {cls.__name__ for cls in _TARGET_CLASSES}]
    assert survivors == []


_TARGET_CLASSES = (SilentTcp, SilentAfterHandshake, TricklesBody, RedirectsElsewhere,
                   AnswersEverything, SpeaksPlainHttp)


@pytest.mark.parametrize("case_name", ["trickling-body"])
def test_never_ending_response_is_not_acknowledged(
    case_name: str, bad_runs: dict[str, Future[BadRun]]
) -> None:
    bad = bad_runs[case_name].result()
    outcomes = bad.run.outcomes()
    context = _context(case_name, bad)
    assert outcomes["RCV-ACK-01"] == FAILED, context
    assert outcomes["RCV-ACK-02"] == FAILED, context
    # ... and the unanswered-request limit applies: a few timeouts, not one per request
    # (a bound, with room for a loaded machine; unbounded it took minutes).
    assert bad.elapsed_s < 40, context


@pytest.mark.parametrize("case_name", ["silent-tcp", "plain-http-on-tls-port"])
def test_tls03_not_passed_without_any_tls_handshake(
    case_name: str, bad_runs: dict[str, Future[BadRun]]
) -> None:
    bad = bad_runs[case_name].result()
    assert bad.run.outcomes()["RCV-TLS-03"] != "passed", _context(case_name, bad)
