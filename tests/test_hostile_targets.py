"""Hostile targets get clear results, in bounded time and memory, and nothing is left behind.

Headers trickled a byte per second, a 100 MB response (from the target, and from the
observer), connection resets (right after the request, and mid-response), an expired or
wrong-host certificate, a redirect to the link-local metadata address, garbage instead of HTTP,
a connection closed without an answer. For each, the suite (run as a user runs it, with JSON and
HTML reports) finishes within a bound, exits 1 (not conformant), writes both reports with every
row, gives the key rows a reason naming the problem, prints no traceback; afterwards the
targets' threads are stopped, their sockets closed, no process is left, and the suite's peak
RSS is within a margin of a run against a well-behaved target.

Each case runs in a fresh process (``python -m hostile_targets``, see that module) so that the
suite's peak RSS can be read exactly (``RUSAGE_CHILDREN``); two run at a time. Traffic goes to
127.0.0.1 only: an audit hook in the suite's process and in the case's process refuses (and
logs) any other destination, and the tests assert that log is empty.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import pytest

from background_runs import background_runs, selected
from hostile_targets import (
    HUGE_BODY_BYTES,
    HUGE_HEADER_BYTES,
    METADATA_URL,
    SETUPS,
    SUITE_KILL_S,
    TESTS_DIR,
    CaseResult,
    TricklesHead,
)
from punctual_conformance.catalogue import RECEIVER_REQUIREMENTS
from punctual_conformance.client import ERROR_TEXT_LIMIT, RESPONSE_READ_CAP
from punctual_conformance.evidence import EXCERPT_LIMIT

pytestmark = pytest.mark.slow

BOUND_S = 90.0  # a bound on a whole run, not a speed target (most take 7-25 s)
MEMORY_MARGIN_MIB = 64.0  # over the control run; a 100 MB body read whole would add >= 95
REPORT_SIZE_LIMIT = 8 * 1024 * 1024  # each report, in bytes (a normal run writes < 0.5 MB)
ROW_IDS = [r.id for r in RECEIVER_REQUIREMENTS]
FAILED, NOT_VERIFIED, PASSED = "failed", "not-verified", "passed"
CONTROL = "control"

# Over TLS, CPython (3.11, OpenSSL 3) reports a peer's RST like an EOF without close_notify,
# which it reads as a clean end: the suite then sees a disconnect. Over plain TCP it sees the
# reset itself (the *-plain cases).
DISCONNECTED = ("server disconnected without sending a response", "connection reset")
CUT_SHORT = ("peer closed connection without sending complete message body",
             "connection reset")
NOT_HTTP = ("not a valid http response",)


@dataclass(frozen=True)
class Row:
    """A row's expected outcome; its reason contains every "|"-separated part of one of
    ``texts`` (any case)."""

    outcome: str
    texts: tuple[str, ...] = ()


def _row(outcome: str, *texts: str) -> Row:
    return Row(outcome, texts)


EXPECTED: dict[str, dict[str, Row]] = {
    CONTROL: {
        "RCV-ACK-01": _row(PASSED),
        "RCV-SIG-01": _row(FAILED, "200 after"),
    },
    "header-trickle": {
        "RCV-ACK-01": _row(FAILED, "timed out|within 2 s"),
        "RCV-ACK-02": _row(FAILED, "late or unanswered"),
        "RCV-SIG-01": _row(FAILED, "not sent|unanswered"),
        "RCV-TLS-02": _row(NOT_VERIFIED, "timed out|within 2 s"),
    },
    # A 200 status line is the acknowledgement; the body is read up to the cap and cut.
    "huge-body": {
        "RCV-ACK-01": _row(PASSED),
        "RCV-SIG-01": _row(FAILED, "200 after"),
        "RCV-TLS-02": _row(PASSED),
    },
    "huge-observer-answer": {
        "RCV-ACK-01": _row(PASSED),
        "RCV-SIG-08": _row(NOT_VERIFIED, 'observer did not answer json {"processed": <int>}'),
        "RCV-IDEM-02": _row(NOT_VERIFIED, "observer did not answer json"),
        "RCV-IDEM-04": _row(NOT_VERIFIED, "observer did not answer json"),
    },
    "trickling-observer": {
        "RCV-ACK-01": _row(PASSED),
        "RCV-SIG-08": _row(NOT_VERIFIED, "observer|unreachable|timed out|within 2 s"),
        "RCV-IDEM-02": _row(NOT_VERIFIED, "observer|timed out"),
    },
    "reset-after-request": {
        "RCV-ACK-01": _row(FAILED, *DISCONNECTED),
        "RCV-SIG-01": _row(FAILED, *DISCONNECTED),
        "RCV-TLS-02": _row(NOT_VERIFIED, *DISCONNECTED),
    },
    "reset-mid-response": {
        "RCV-ACK-01": _row(FAILED, *(f"200 after|{text}" for text in CUT_SHORT)),
        "RCV-SIG-01": _row(FAILED, *CUT_SHORT),
    },
    "reset-after-request-plain": {
        "RCV-ACK-01": _row(FAILED, "no response: connection reset by the target"),
        "RCV-SIG-01": _row(FAILED, "connection reset by the target"),
        "RCV-TLS-01": _row(FAILED, "http://"),
    },
    "reset-mid-response-plain": {
        "RCV-ACK-01": _row(FAILED, "200 after|then connection reset by the target"),
        "RCV-SIG-01": _row(FAILED, "connection reset by the target"),
    },
    # The certificate row fails naming the problem; every other row still runs.
    "expired-certificate": {
        "RCV-TLS-02": _row(FAILED, "certificate verification failed|certificate has expired"),
        "RCV-ACK-01": _row(PASSED),
        "RCV-SIG-01": _row(FAILED, "200 after"),
    },
    "wrong-host-certificate": {
        "RCV-TLS-02": _row(FAILED, "certificate verification failed|mismatch|'127.0.0.1'"),
        "RCV-ACK-01": _row(PASSED),
        "RCV-SIG-01": _row(FAILED, "200 after"),
    },
    "redirect-to-metadata": {
        "RCV-ACK-01": _row(FAILED, "307 after"),
        "RCV-ACK-03": _row(FAILED, f"307 Location: {METADATA_URL}"),
    },
    "garbage-random": {
        "RCV-ACK-01": _row(FAILED, *NOT_HTTP),
        "RCV-SIG-01": _row(FAILED, *NOT_HTTP),
        "RCV-TLS-02": _row(NOT_VERIFIED, *NOT_HTTP),
    },
    "garbage-endless-line": {
        "RCV-ACK-01": _row(FAILED, *NOT_HTTP),
        "RCV-SIG-01": _row(FAILED, *NOT_HTTP),
    },
    "garbage-huge-header": {
        "RCV-ACK-01": _row(FAILED, *NOT_HTTP),
        "RCV-SIG-01": _row(FAILED, *NOT_HTTP),
    },
    "garbage-long-status-line": {
        "RCV-ACK-01": _row(FAILED, "not a valid http response|illegal status line|more characters"),
    },
    "closes-at-accept": {
        "RCV-ACK-01": _row(FAILED, "during the tls handshake", "connection reset"),
        "RCV-TLS-02": _row(NOT_VERIFIED, "during the tls handshake", "connection reset"),
    },
    "closes-after-request": {
        "RCV-ACK-01": _row(FAILED, *DISCONNECTED),
        "RCV-TLS-02": _row(NOT_VERIFIED, *DISCONNECTED),
    },
}


def test_every_setup_has_expectations() -> None:
    assert set(EXPECTED) == set(SETUPS)


def _run_in_fresh_process(name: str, workdir: Path) -> CaseResult:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
    with subprocess.Popen([sys.executable, "-m", "hostile_targets", name, str(workdir)],
                          env=env, cwd=workdir, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=SUITE_KILL_S + 60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started
            process.communicate()
            raise
    result = workdir / "result.json"
    assert process.returncode == 0 and result.exists(), f"case {name} crashed:\n{output}"
    return CaseResult.load(result)


@pytest.fixture(scope="module")
def hostile_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[dict[str, Future[CaseResult]]]:
    names = [CONTROL, *selected(request, "case_name")]  # CONTROL: every case's memory baseline
    jobs = {name: functools.partial(_run_in_fresh_process, name) for name in dict.fromkeys(names)}
    with background_runs(jobs, tmp_path_factory, "hostile-target-run") as futures:
        yield futures


def _context(result: CaseResult) -> str:
    rows = "\n".join(f"  {row['id']:<12} {row['outcome']:<13} {row['reason'][:200]}"
                     for row in result.report.get("requirements", []))
    return (f"{result.name}: {result.elapsed_s:.1f} s, peak {result.peak_rss_mib:.0f} MiB, "
            f"targets {result.targets}\n{rows}\nexit {result.returncode}\n--- stdout\n"
            f"{result.stdout[-5000:]}\n--- stderr\n{result.stderr[-3000:]}")


def _reason_matches(reason: str, texts: tuple[str, ...]) -> bool:
    return any(all(part.lower() in reason.lower() for part in text.split("|"))
               for text in texts)


@pytest.mark.parametrize("case_name", list(EXPECTED))
def test_hostile_target_gets_clear_results(
    case_name: str, hostile_runs: dict[str, Future[CaseResult]]
) -> None:
    result = hostile_runs[case_name].result()
    context = _context(result)
    # Bounded, not-conformant, both reports with every row, no traceback.
    assert result.elapsed_s < BOUND_S, context
    assert result.returncode == 1, context
    assert result.report, f"no JSON report written\n{context}"
    assert result.report["verdict"] == "not-conformant", context
    assert [row["id"] for row in result.report["requirements"]] == ROW_IDS, context
    assert result.html, f"no HTML report written\n{context}"
    missing = [rid for rid in ROW_IDS if rid not in result.html]
    assert missing == [], context
    assert "Traceback" not in result.stdout + result.stderr, context
    assert len(json.dumps(result.report)) < REPORT_SIZE_LIMIT, context
    assert len(result.html.encode()) < REPORT_SIZE_LIMIT, context
    # Every failing row says why; the key rows say what went wrong.
    rows = result.rows()
    for row in rows.values():
        if row["outcome"] in (FAILED, NOT_VERIFIED):
            assert row["reason"].strip(), f"{row['id']} has no reason\n{context}"
    for rid, expected in EXPECTED[case_name].items():
        outcome, reason = rows[rid]["outcome"], rows[rid]["reason"]
        assert outcome == expected.outcome, f"{rid}: {outcome}: {reason}\n{context}"
        if expected.texts:
            assert _reason_matches(reason, expected.texts), f"{rid}: {reason}\n{context}"
    # Nothing left behind: threads, sockets, processes; no traffic beyond 127.0.0.1.
    assert result.leftover_threads == [], context
    assert result.sockets_after == result.sockets_before, context
    assert result.child_processes == [], context
    assert result.guard_log == [], context


@pytest.mark.parametrize("case_name", [name for name in EXPECTED if name != CONTROL])
def test_memory_stays_bounded(case_name: str,
                              hostile_runs: dict[str, Future[CaseResult]]) -> None:
    result, control = hostile_runs[case_name].result(), hostile_runs[CONTROL].result()
    assert result.peak_rss_mib > 0, _context(result)
    assert result.peak_rss_mib < control.peak_rss_mib + MEMORY_MARGIN_MIB, (
        f"peak {result.peak_rss_mib:.0f} MiB vs {control.peak_rss_mib:.0f} MiB against a "
        f"well-behaved target\n{_context(result)}")


@pytest.mark.parametrize("case_name", ["header-trickle"])
def test_header_trickle_is_cut_by_the_total_deadline(
    case_name: str, hostile_runs: dict[str, Future[CaseResult]]
) -> None:
    result = hostile_runs[case_name].result()
    context = _context(result)
    # Each byte would restart a per-read timeout: only the total deadline ends the request.
    # Left alone, one answer takes len(HEAD) s, more than the bound on the whole run.
    assert len(TricklesHead.HEAD) * TricklesHead.interval_s > BOUND_S
    timed_out = [e for e in result.exchanges() if e["status"] is None
                 and "timed out" in (e["error"] or "")]
    assert timed_out, context
    request_timeout_ms = 2000  # --punctual-ack-timeout 1, plus a grace of 1 s
    assert max(e["latency_ms"] for e in timed_out) < request_timeout_ms + 1500, context
    # The target got to send a couple of bytes per request, never its whole head.
    assert result.targets["target"]["max_sent_per_connection"] <= 5, context
    # ... and after three unanswered requests the rest were not sent.
    assert any("not sent" in (e["error"] or "") for e in result.exchanges()), context


@pytest.mark.parametrize("case_name", ["huge-body", "huge-observer-answer"])
def test_huge_answer_is_read_up_to_the_cap(
    case_name: str, hostile_runs: dict[str, Future[CaseResult]]
) -> None:
    result = hostile_runs[case_name].result()
    context = _context(result)
    # The client stopped reading and hung up: what the target managed to send before it
    # noticed is socket buffers, not the 100 MB.
    key = "target" if case_name == "huge-body" else "observer"
    assert result.targets[key]["requests"] > 0, context
    assert result.targets[key]["max_sent_per_connection"] < HUGE_BODY_BYTES // 4, context
    if case_name == "huge-body":
        # Exactly the cap was read: the excerpt says how much more of it there was.
        cut = f"… [{RESPONSE_READ_CAP - EXCERPT_LIMIT} more bytes]"
        answered = [e for e in result.exchanges() if e["status"] == 200 and e["method"] != "HEAD"]
        assert answered, context
        assert all(e["response_body"].endswith(cut) for e in answered), context


@pytest.mark.parametrize("case_name", ["garbage-huge-header", "garbage-long-status-line"])
def test_garbage_is_rejected_early_and_quoted_briefly(
    case_name: str, hostile_runs: dict[str, Future[CaseResult]]
) -> None:
    result = hostile_runs[case_name].result()
    context = _context(result)
    assert result.targets["target"]["max_sent_per_connection"] < HUGE_HEADER_BYTES, context
    errors = [e["error"] for e in result.exchanges() if e["error"]]
    assert errors, context
    # The parser quotes the whole offending line; the suite keeps the start of it.
    assert max(map(len, errors)) <= ERROR_TEXT_LIMIT + 40, context


@pytest.mark.parametrize("case_name", ["redirect-to-metadata"])
def test_redirect_to_metadata_address_is_never_followed(
    case_name: str, hostile_runs: dict[str, Future[CaseResult]]
) -> None:
    result = hostile_runs[case_name].result()
    context = _context(result)
    exchanges = result.exchanges()
    redirected = [e for e in exchanges if e["status"] == 307]
    assert redirected, context
    assert all(e["response_headers"].get("location") == METADATA_URL for e in redirected)
    # Every request the suite made went to the target itself: none to the Location.
    assert {e["url"] for e in exchanges} == {result.url}, context
    assert result.targets["target"]["paths"] == ["/webhook"], context
    # ... and nothing in the suite's process or the test's tried to reach anything else.
    assert result.guard_log == [], context


@pytest.mark.parametrize("case_name", ["expired-certificate", "wrong-host-certificate"])
def test_bad_certificate_fails_only_the_certificate_row(
    case_name: str, hostile_runs: dict[str, Future[CaseResult]]
) -> None:
    result = hostile_runs[case_name].result()
    context = _context(result)
    # The other rows ran (unverified TLS) and got real answers from the target.
    assert result.targets["target"]["requests"] > 20, context
    tls_errors = [e for e in result.exchanges() if (e["error"] or "").startswith("TLS")]
    assert len(tls_errors) == 1, context  # the probe; every later request was answered

