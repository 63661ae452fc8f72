"""The reference sender: its policies, its SQLite history, its command line, and a crash in the
middle of its retries (SIGKILL, restart, exactly one delivery, history intact)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from punctual_conformance.capture_server import HOLD, CaptureServer, Route, redirect, respond
from punctual_conformance.events import new_event
from punctual_conformance.reference_sender import (
    DEFAULT_SCHEDULE,
    ReferenceSender,
    Schedule,
)
from punctual_conformance.sender_history import DeliveryState, SenderHistory
from punctual_conformance.signing import sign
from punctual_conformance.tls import EphemeralCA

SECRET = "whsec_reference-sender-test-9Zq"


@pytest.fixture
def bundle(ca: EphemeralCA, tmp_path: Path) -> Path:
    return ca.write_ca_bundle(tmp_path)


def event_file(tmp_path: Path, event_type: str = "booking.created") -> tuple[Path, bytes]:
    event = new_event(event_type)
    path = tmp_path / f"{event.id}.json"
    path.write_bytes(event.body)
    return path, event.body


def cli(*args: str, bundle: Path | None = None, scale: float = 0.002,
        timeout: float = 30, **popen: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PUNCTUAL_WEBHOOK_SECRET=SECRET, PUNCTUAL_TIME_SCALE=repr(scale))
    if bundle is not None:
        env["SSL_CERT_FILE"] = str(bundle)
    return subprocess.run([sys.executable, "-m", "punctual_conformance.reference_sender",
                           *args], env=env, capture_output=True, text=True, timeout=timeout,
                          **popen)


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def attempt_lines(output: str) -> list[dict[str, Any]]:
    return [line for line in lines(output) if "attempt" in line]


def send(server: CaptureServer, route: Route, tmp_path: Path, bundle: Path, *extra: str,
         scale: float = 0.002, file: Path | None = None) -> subprocess.CompletedProcess[str]:
    path = file or event_file(tmp_path)[0]
    return cli("send", "--url", server.url(route, "q=1"), "--event-file", str(path),
               "--db", str(tmp_path / "history.sqlite3"), "--allow-loopback", *extra,
               bundle=bundle, scale=scale)


# -- policies, without the network ------------------------------------------------------


def test_default_schedule_spans_more_than_a_day_with_bounded_jitter(tmp_path: Path) -> None:
    schedule = DEFAULT_SCHEDULE
    total = sum(schedule.nominal_delay(n) for n in range(1, schedule.max_attempts))
    assert 24 * 3600 < total < 3 * 24 * 3600
    with SenderHistory(tmp_path / "h.sqlite3") as history:
        sender = ReferenceSender(SECRET, history, time_scale=0.5)
        for attempts in (1, 2, 5):
            nominal = schedule.nominal_delay(attempts) * 0.5
            delays = [sender.next_delay(attempts) for _ in range(200)]
            assert all(nominal * 0.9 <= d <= nominal * 1.1 for d in delays)
        assert sender.attempt_timeout() == 5.0
        assert ReferenceSender(SECRET, history, time_scale=0.001).attempt_timeout() == 1.0


@pytest.mark.parametrize(("address", "refused"), [
    ("127.0.0.1", True), ("::1", True), ("10.1.2.3", True), ("192.168.0.1", True),
    ("169.254.169.254", True), ("fe80::1", True), ("0.0.0.0", True), ("100.64.0.1", True),
    ("::ffff:10.0.0.1", True), ("8.8.8.8", False), ("2001:4860:4860::8888", False),
])
def test_address_policy(tmp_path: Path, address: str, refused: bool) -> None:
    with SenderHistory(tmp_path / "h.sqlite3") as history:
        sender = ReferenceSender(SECRET, history)
        assert (sender._address_refusal(address) is not None) is refused
        loopback_ok = ReferenceSender(SECRET, history, allow_loopback=True)
        assert (loopback_ok._address_refusal("127.0.0.1") is None)
        assert loopback_ok._address_refusal("10.1.2.3") is not None


def test_history_records_states_and_final_give_up(tmp_path: Path) -> None:
    with SenderHistory(tmp_path / "h.sqlite3") as history:
        assert history.enqueue("evt_1", "booking.created", "https://x/", b"{}")
        assert not history.enqueue("evt_1", "booking.created", "https://x/", b"other")
        assert history.get("evt_1").state is DeliveryState.PENDING  # type: ignore[union-attr]
        assert history.begin_attempt("evt_1", lease_s=10) == 1
        assert history.begin_attempt("evt_1", lease_s=10) is None  # leased
        history.finish_attempt("evt_1", 1, response_code=500, error=None, duration_ms=3,
                               delivered=False, next_attempt_at=time.time())
        assert history.get("evt_1").state is DeliveryState.FAILED  # type: ignore[union-attr]
        assert history.begin_attempt("evt_1", lease_s=10) == 2
        assert history.get("evt_1").state is DeliveryState.RETRYING  # type: ignore[union-attr]
        history.finish_attempt("evt_1", 2, response_code=None, error="timeout",
                               duration_ms=1000, delivered=False, next_attempt_at=None)
        final = history.get("evt_1")
        assert final is not None and final.final and final.state is DeliveryState.FAILED
        assert final.shown_state == "failed (final)" and final.body == b"{}"
        assert history.unsettled() == []
        assert [a.response_code for a in history.attempts("evt_1")] == [500, None]


# -- over HTTPS, through the command line -------------------------------------------------


def test_delivers_signed_exact_bytes_and_records_history(server: CaptureServer,
                                                         tmp_path: Path, bundle: Path) -> None:
    route = server.add_route("/hooks/ok", [respond(500), respond(503), respond(200)])
    path, body = event_file(tmp_path)
    result = send(server, route, tmp_path, bundle, file=path)
    assert result.returncode == 0, result.stderr
    captures = route.snapshot()
    assert len(captures) == 3
    assert all(c.body == body for c in captures)  # the file's bytes, kept, every time
    assert all(c.header_values("Punctual-Signature") == [sign(SECRET, body)] for c in captures)
    assert all(c.target == route.path + "?q=1" for c in captures)
    reported = attempt_lines(result.stdout)
    assert [(r["attempt"], r["status"], r["response_code"]) for r in reported] == [
        (1, "failed", 500), (2, "failed", 503), (3, "delivered", 200)]
    assert lines(result.stdout)[0]["schedule"]["factor"] == 2.0
    assert SECRET not in result.stdout + result.stderr
    listed = cli("history", "--db", str(tmp_path / "history.sqlite3"), "--json")
    [delivery] = json.loads(listed.stdout)
    assert delivery["state"] == "delivered" and not delivery["final"]
    assert [a["response_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert all(a["duration_ms"] is not None and a["at"].endswith("Z")
               for a in delivery["attempts"])
    text = cli("history", "--db", str(tmp_path / "history.sqlite3"))
    assert "delivered" in text.stdout and "#3" in text.stdout


def test_refuses_http_before_any_connection(tmp_path: Path, bundle: Path) -> None:
    with CaptureServer(None) as plain:
        route = plain.add_route("/hooks/plain", [respond(200)])
        result = send(plain, route, tmp_path, bundle)
        assert result.returncode == 2
        assert "https" in result.stderr.lower()
        assert plain.connections == 0


def test_refuses_loopback_unless_allowed(server: CaptureServer, tmp_path: Path,
                                         bundle: Path) -> None:
    route = server.add_route("/hooks/loop", [respond(200)])
    path, _ = event_file(tmp_path)
    result = cli("send", "--url", server.url(route), "--event-file", str(path), "--db",
                 str(tmp_path / "h.sqlite3"), bundle=bundle)
    assert result.returncode == 2 and "loopback" in result.stderr
    assert route.snapshot() == [] and server.connections == 0


def test_verifies_certificates(tmp_path: Path, bundle: Path) -> None:
    with CaptureServer(EphemeralCA().server_context()) as stranger:
        route = stranger.add_route("/hooks/stranger", [respond(200)])
        result = send(stranger, route, tmp_path, bundle, scale=0.00002)
        assert result.returncode == 1
        assert route.snapshot() == []
        assert stranger.rejected  # it tried, and the handshake failed
        assert all(r["status"] == "failed" for r in attempt_lines(result.stdout))


def test_never_follows_redirects(server: CaptureServer, tmp_path: Path, bundle: Path) -> None:
    route = server.add_route("/hooks/redirect", [redirect(302), redirect(308), respond(200)])
    result = send(server, route, tmp_path, bundle)
    assert result.returncode == 0
    assert server.location_route(route).snapshot() == []
    assert [r["response_code"] for r in attempt_lines(result.stdout)] == [302, 308, 200]


def test_times_out_a_silent_receiver_and_retries(server: CaptureServer, tmp_path: Path,
                                                 bundle: Path) -> None:
    route = server.add_route("/hooks/silent", [HOLD, respond(200)])
    result = send(server, route, tmp_path, bundle)
    assert result.returncode == 0
    first, second = attempt_lines(result.stdout)
    assert first["response_code"] is None and second["status"] == "delivered"
    held = route.snapshot()[0]
    assert held.client_closed is not None  # the sender hung up: the 1 s timeout floor


def test_gives_up_after_bounded_attempts(server: CaptureServer, tmp_path: Path,
                                         bundle: Path) -> None:
    route = server.add_route("/hooks/down", [respond(500)])
    result = send(server, route, tmp_path, bundle, scale=0.00002)
    assert result.returncode == 1
    reported = attempt_lines(result.stdout)
    assert len(reported) == DEFAULT_SCHEDULE.max_attempts == len(route.snapshot())
    assert reported[-1]["final"] is True and not any(r.get("final") for r in reported[:-1])
    with SenderHistory(tmp_path / "history.sqlite3") as history:
        [delivery] = history.deliveries()
        assert delivery.final and delivery.state is DeliveryState.FAILED


def test_the_same_event_file_is_queued_once(server: CaptureServer, tmp_path: Path,
                                            bundle: Path) -> None:
    route = server.add_route("/hooks/once", [respond(200)])
    path, _ = event_file(tmp_path)
    assert send(server, route, tmp_path, bundle, file=path).returncode == 0
    assert send(server, route, tmp_path, bundle, file=path).returncode == 0
    assert len(route.snapshot()) == 1


def _wait_for(route: Route, count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len(route.snapshot()) < count:
        assert time.monotonic() < deadline, f"only {len(route.snapshot())} attempts arrived"
        time.sleep(0.005)


def _start_send(server: CaptureServer, route: Route, path: Path, db: Path, bundle: Path,
                scale: float) -> subprocess.Popen[str]:
    env = dict(os.environ, PUNCTUAL_WEBHOOK_SECRET=SECRET, PUNCTUAL_TIME_SCALE=repr(scale),
               SSL_CERT_FILE=str(bundle))
    return subprocess.Popen(
        [sys.executable, "-m", "punctual_conformance.reference_sender", "send", "--url",
         server.url(route), "--event-file", str(path), "--db", str(db), "--allow-loopback"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_during_retries_then_restart_delivers_exactly_once(
        server: CaptureServer, tmp_path: Path, bundle: Path) -> None:
    route = server.add_route("/hooks/crash", [respond(500), respond(500), respond(200)])
    path, body = event_file(tmp_path)
    db = tmp_path / "history.sqlite3"
    # At scale 0.02 the retry after attempt 2 comes ~2.4 s later: kill it while it waits.
    process = _start_send(server, route, path, db, bundle, scale=0.02)
    try:
        _wait_for(route, 2)
        time.sleep(0.1)  # let it record attempt 2 and start sleeping
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert len(route.snapshot()) == 2
    with SenderHistory(db) as history:
        [delivery] = history.deliveries()
        assert delivery.state is DeliveryState.FAILED and not delivery.final
        assert [a.response_code for a in history.attempts(delivery.event_id)] == [500, 500]

    resumed = cli("resume", "--db", str(db), "--allow-loopback", bundle=bundle, scale=0.02)
    assert resumed.returncode == 0, resumed.stderr
    captures = route.snapshot()
    assert [c.status for c in captures] == [500, 500, 200]
    assert all(c.body == body for c in captures)  # same id, same bytes across the restart
    ids = {json.loads(c.body)["id"] for c in captures}
    assert ids == {json.loads(body)["id"]}
    assert [r["attempt"] for r in attempt_lines(resumed.stdout)] == [3]
    with SenderHistory(db) as history:
        [delivery] = history.deliveries()
        assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 3
        attempts = history.attempts(delivery.event_id)
        assert [(a.number, a.response_code, a.outcome) for a in attempts] == [
            (1, 500, "failed"), (2, 500, "failed"), (3, 200, "delivered")]
    time.sleep(0.3)
    assert len(route.snapshot()) == 3  # exactly once: nothing after the 2xx


def test_sigkill_during_an_attempt_keeps_it_as_interrupted(
        server: CaptureServer, tmp_path: Path, bundle: Path) -> None:
    route = server.add_route("/hooks/midair", [HOLD, respond(200)])
    path, body = event_file(tmp_path)
    db = tmp_path / "history.sqlite3"
    process = _start_send(server, route, path, db, bundle, scale=0.5)  # 5 s timeout
    try:
        _wait_for(route, 1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.communicate(timeout=10)
    route.release()
    # The killed process held a lease of timeout + 1 s; resume waits for it, then retries.
    resumed = cli("resume", "--db", str(db), "--allow-loopback", bundle=bundle, scale=0.002)
    assert resumed.returncode == 0, resumed.stderr
    captures = route.snapshot()
    assert len(captures) == 2 and captures[1].status == 200 and captures[1].body == body
    with SenderHistory(db) as history:
        [delivery] = history.deliveries()
        outcomes = [a.outcome for a in history.attempts(delivery.event_id)]
        assert outcomes == ["interrupted", "delivered"]
        assert delivery.state is DeliveryState.DELIVERED


def test_schedule_declaration_is_unscaled() -> None:
    declared = Schedule().declaration()["schedule"]
    assert declared == {"first_delay_s": 60.0, "factor": 2.0, "jitter": 0.1,
                        "max_attempts": 12, "timeout_s": 10.0}
