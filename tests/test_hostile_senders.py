"""Hostile targets in sender mode, and secret hygiene of both modes.

Each hostile sender (``tests/hostile_senders/hostile.py``) is driven by the suite run as a
subprocess (``python -m pytest --punctual-sender-cmd …``, from an empty folder, with the JSON,
HTML and JUnit reports). For each: the run ends within a generous bound, with the exit status
the verdict calls for; every sender row is in the JSON report and the HTML report is written;
the rows the hostility breaks fail with a reason naming the problem; the suite itself raised
nothing (no traceback in its output, no pytest error, no "suite error" check); its own peak
memory (``VmHWM``, measured by the ``hostile_senders.memprobe`` plugin inside the suite
process, so the senders' memory is not counted) stays under :data:`MEMORY_BOUND_KIB`; and no
process carrying the run's marker is left running.

Secret hygiene: both modes run with a distinctive, non-ASCII secret, also in runs that fail
(a sender that echoes its secret everywhere it can and signs with the wrong key); the secret,
its JSON- and HTML-escaped forms and its ends (what a cut through it would leave) appear
nowhere in stdout, stderr, JUnit, JSON or HTML. The repr, str and exceptions of the project's
objects that hold the secret do not contain it either.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from punctual_conformance.catalogue import RECEIVER_REQUIREMENTS, SENDER_REQUIREMENTS
from punctual_conformance.reference_receiver import ReferenceReceiver, Reply
from suite_runner import LOOPBACK_ONLY, UNUSED_PLUGINS

TESTS = Path(__file__).resolve().parent
HOSTILE = TESTS / "hostile_senders" / "hostile.py"
SUITE_BOUND_S = 120.0  # a bound on one suite run, not a speed test
MEMORY_BOUND_KIB = 1024 * 1024  # 1 GiB of peak RSS for the suite process
SECRET = "Zq9-\ufb01-secret-\u2713-7731"  # "Zq9-ﬁ-secret-✓-7731"
SENDER_ROWS = [r.id for r in SENDER_REQUIREMENTS]

pytestmark = pytest.mark.slow


# -- running the suite against a hostile sender ---------------------------------------------


@dataclass
class HostileRun:
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float
    peak_rss_kib: int
    workdir: Path
    marker: str
    report: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> dict[str, dict[str, Any]]:
        return {row["id"]: row for row in self.report.get("requirements", [])}

    def outcomes(self) -> dict[str, str]:
        return {rid: row["outcome"] for rid, row in self.rows().items()}

    def failed(self) -> set[str]:
        return {rid for rid, outcome in self.outcomes().items() if outcome == "failed"}

    def reason(self, rid: str) -> str:
        return str(self.rows()[rid]["reason"])

    def explain(self) -> str:
        reasons = {rid: row["reason"] for rid, row in self.rows().items()
                   if row["outcome"] != "passed"}
        return (f"exit {self.returncode} after {self.elapsed_s:.1f} s\n"
                f"{json.dumps(reasons, indent=1, ensure_ascii=False)}\n--- stdout\n"
                f"{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-2000:]}")

    def texts(self) -> dict[str, str]:
        """Everything the run wrote: its output and the three reports."""
        texts = {"stdout": self.stdout, "stderr": self.stderr}
        for name in ("report.json", "report.html", "junit.xml"):
            path = self.workdir / name
            texts[name] = path.read_text(encoding="utf-8") if path.exists() else ""
        return texts


def run_suite(workdir: Path, *options: str, secret: str = SECRET,
              env: dict[str, str] | None = None) -> HostileRun:
    """Run the suite as a user would, from an empty folder, with all three reports and the
    memory probe; never longer than the bound (then the whole process group is killed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    marker = uuid.uuid4().hex
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PUNCTUAL_")}
    environment.pop("PYTEST_ADDOPTS", None)
    environment.update({
        "PUNCTUAL_WEBHOOK_SECRET": secret,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "HOSTILE_MEMPROBE": str(workdir / "peak-rss-kib"),
        "HOSTILE_RUN_MARKER": marker,
        **(env or {}),
    })
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *LOOPBACK_ONLY,
               *UNUSED_PLUGINS,
               "-p", "hostile_senders.memprobe",
               "--punctual-report-json", str(workdir / "report.json"),
               "--punctual-report", str(workdir / "report.html"),
               "--junitxml", str(workdir / "junit.xml"),
               *[option.replace("{marker}", marker) for option in options]]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=workdir, env=environment, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               encoding="utf-8", errors="replace", start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=SUITE_BOUND_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"the suite outlived its bound of {SUITE_BOUND_S:.0f} s\n{stdout[-3000:]}")
    elapsed = time.monotonic() - started
    probe = workdir / "peak-rss-kib"
    report_path = workdir / "report.json"
    return HostileRun(
        returncode=process.returncode, stdout=stdout, stderr=stderr, elapsed_s=elapsed,
        peak_rss_kib=int(probe.read_text()) if probe.exists() else -1, workdir=workdir,
        marker=marker,
        report=json.loads(report_path.read_text(encoding="utf-8"))
        if report_path.exists() else {},
    )


def hostile_command(mode: str) -> str:
    return f"{sys.executable} {HOSTILE} {mode} --hostile-marker={{marker}}"


def run_hostile(workdir: Path, mode: str, **env: str) -> HostileRun:
    return run_suite(workdir, "--punctual-sender-cmd", hostile_command(mode), env=env)


def processes_with(marker: str) -> list[tuple[int, str]]:
    """Live (not zombie) processes whose command line or environment carries the marker."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                environ = b""
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and (needle in cmdline or needle in environ):
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def leftovers(run: HostileRun) -> list[tuple[int, str]]:
    """What is still running from this run (after a moment for SIGKILLs to land); anything
    found is killed here, by pid, so one failing case does not leak into the next."""
    deadline = time.monotonic() + 3
    found = processes_with(run.marker)
    while found and time.monotonic() < deadline:
        time.sleep(0.1)
        found = processes_with(run.marker)
    for pid, _ in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return found


def assert_well_behaved(run: HostileRun, expected_exit: int = 1) -> None:
    """What every hostile run must show, whatever the sender did."""
    assert run.elapsed_s < SUITE_BOUND_S, run.explain()
    assert run.returncode == expected_exit, run.explain()
    assert [row["id"] for row in run.report.get("requirements", [])] == SENDER_ROWS, \
        run.explain()
    assert run.report["mode"] == "sender"
    html_report = (run.workdir / "report.html").read_text(encoding="utf-8")
    assert all(rid in html_report for rid in SENDER_ROWS)
    assert (run.workdir / "junit.xml").exists()
    # The suite raised nothing of its own: no traceback in its output, no pytest error, no
    # check that ended in a suite error (a sender's own traceback is evidence in the reports).
    assert "Traceback" not in run.stdout + run.stderr, run.explain()
    assert not re.search(r"\b\d+ errors?\b", run.stdout), run.explain()
    messages = [check["message"] for row in run.report["requirements"]
                for check in row["checks"]]
    assert not [m for m in messages if m.startswith("suite error")], messages
    assert 0 < run.peak_rss_kib < MEMORY_BOUND_KIB, run.peak_rss_kib
    assert leftovers(run) == []
    print(f"{run.workdir.name}: exit {run.returncode}, {run.elapsed_s:.1f} s, "
          f"peak RSS {run.peak_rss_kib / 1024:.0f} MiB, failed {sorted(run.failed())}")


_RUNS: dict[str, HostileRun] = {}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``hostile(mode, **env)``: the suite's run against that hostile sender (once per mode)."""
    root = tmp_path_factory.mktemp("hostile")

    def get(mode: str, **env: str) -> HostileRun:
        if mode not in _RUNS:
            _RUNS[mode] = run_hostile(root / mode, mode, **env)
        return _RUNS[mode]

    return get


NO_ATTEMPT_ROWS = {"SND-SIG-01", "SND-BODY-01", "SND-BODY-02", "SND-BODY-03", "SND-BODY-04",
                   "SND-RETRY-01", "SND-RETRY-02", "SND-RETRY-05", "SND-RETRY-06", "SND-TLS-01",
                   "SND-HTTP-01", "SND-HTTP-02"}
# With no attempt at all there is nothing to compare or watch, and the certificate check
# was never exercised: not verified, never passed.
NO_ATTEMPT_NOT_VERIFIED = {"SND-RETRY-03", "SND-RETRY-04", "SND-TLS-02", "SND-HIST-01"}


@pytest.mark.parametrize(("mode", "named"), [
    ("hang", "still running"),
    ("hang-ignore-term", "still running"),  # only the SIGKILL of its group ends it
    ("crash", "exit 3"),
    ("killed", "killed by signal 9 (SIGKILL)"),
])
def test_a_sender_that_never_delivers(mode: str, named: str, hostile: Any) -> None:
    # A bound of 4 s per scenario keeps the hanging runs short; it is a knob of the suite.
    run = hostile(mode, PUNCTUAL_SCENARIO_BOUND="4")
    assert_well_behaved(run, expected_exit=1)
    assert run.report["verdict"] == "not-conformant"
    assert run.failed() == NO_ATTEMPT_ROWS, run.explain()
    assert set(run.outcomes().values()) == {"failed", "not-verified"}
    for rid in NO_ATTEMPT_ROWS:
        assert named in run.reason(rid), (rid, run.reason(rid))
    if mode == "crash":
        # The sender's own traceback is evidence in the report (not in the suite's output).
        facts = run.rows()["SND-RETRY-06"]["checks"][0]["facts"]
        assert "RuntimeError: the hostile sender crashed on purpose" in facts["stderr_excerpt"]
        assert "Traceback" in facts["stderr_excerpt"]


def test_a_sender_printing_garbage_is_judged_on_what_it_does(hostile: Any) -> None:
    # Binary junk, invalid UTF-8, a 24 MiB line, JSON of the wrong shapes, 40,000 short
    # lines and junk on stderr, then a correct delivery with correct attempt lines.
    run = hostile("garbage", PUNCTUAL_SCENARIO_BOUND="20")
    assert_well_behaved(run, expected_exit=0)
    assert run.report["verdict"] == "conformant", run.explain()
    history = run.rows()["SND-HIST-01"]["checks"][0]["facts"]
    kept = history["unparsed_stdout_lines"]
    assert kept and all(0 < len(lines) <= 50 for lines in kept.values())
    assert all(len(line) <= 200 for lines in kept.values() for line in lines)
    assert any("invalid utf-8" in line for lines in kept.values() for line in lines)
    # The attempt lines after ~26 MB of garbage were still read (the refused case needs one).
    assert run.outcomes()["SND-RETRY-02"] == "passed"
    assert (run.workdir / "report.json").stat().st_size < 5_000_000


def test_attempt_lines_of_the_wrong_shape_fail_the_history_row(hostile: Any) -> None:
    run = hostile("wrong-shape", PUNCTUAL_SCENARIO_BOUND="20")
    assert_well_behaved(run, expected_exit=1)
    # Among its lines is {"attempt": 2, "status": "delivered", ...}: in the untrusted
    # certificate scenario that claims a delivery nobody received, which SND-TLS-02 forbids.
    assert run.failed() == {"SND-HIST-01", "SND-TLS-02"}, run.explain()
    assert run.report["verdict"] == "not-conformant"
    assert "attempt line(s) say delivered" in run.reason("SND-TLS-02")
    message = run.rows()["SND-HIST-01"]["checks"][0]["message"]
    assert "attempt is not an integer" in message and "status is not a string" in message


def test_a_sender_flooding_the_capture_server(hostile: Any) -> None:
    # 10,000 signed requests per scenario, 8 threads, as fast as they go; a scenario with a
    # 2xx is cut at its grace period, the give-up scenario (every answer 500) runs to the end
    # of its flood: the bound of 60 s lets all 10,000 arrive.
    run = hostile("flood", PUNCTUAL_SCENARIO_BOUND="60")
    assert_well_behaved(run, expected_exit=1)
    failed = run.failed()
    assert {"SND-RETRY-04", "SND-RETRY-05", "SND-TLS-01", "SND-HIST-01"} <= failed, \
        run.explain()
    assert "attempt(s) after the 2xx" in run.reason("SND-RETRY-04")
    assert "request(s) delivered over plain http://" in run.reason("SND-TLS-01")
    received = {}
    for row in run.report["requirements"]:
        for check in row["checks"]:
            assert len(check["exchanges"]) <= 40 + 2, row["id"]  # capped evidence
            facts = check["facts"]
            recorded = len(facts.get("attempts", []))
            assert recorded <= 1000, row["id"]  # capped captures per scenario
            if "scenario" in facts:
                received[facts["scenario"]] = recorded + facts.get("requests_not_recorded", 0)
                if facts.get("requests_not_recorded"):
                    assert recorded == 1000
    print(f"flood: requests received per scenario {received}")
    assert received["give-up"] == 10_000, received  # 1,000 recorded, 9,000 counted
    for name in ("report.json", "report.html"):
        assert (run.workdir / name).stat().st_size < 20_000_000, name


@pytest.mark.parametrize("mode", ["grandchild", "grandchild-setsid"])
def test_a_sender_leaving_a_process_behind(mode: str, hostile: Any) -> None:
    run = hostile(mode)
    assert_well_behaved(run, expected_exit=0)  # leftovers() found nothing running
    assert run.report["verdict"] == "conformant", run.explain()
    if mode == "grandchild-setsid":
        facts = run.rows()["SND-RETRY-06"]["checks"][0]["facts"]
        assert facts["stray_processes_killed"] == 1


# -- the capture server and the command runner, directly ------------------------------------


def test_capture_server_records_a_bounded_number_of_requests(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from punctual_conformance import capture_server
    from punctual_conformance.capture_server import CaptureServer, respond

    monkeypatch.setattr(capture_server, "MAX_CAPTURES", 50)
    monkeypatch.setattr(capture_server, "MAX_KEPT_BODY_BYTES", 40 * 1000)
    with CaptureServer(None) as server:
        route = server.add_route("/flood", [respond(500), respond(200)])
        body = b"x" * 1000
        for _ in range(120):
            with socket.create_connection((server.host, server.port), timeout=5) as sock:
                sock.sendall(b"POST /flood HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                             b"Connection: close\r\n\r\n" + body)
                while sock.recv(4096):
                    pass
        deadline = time.monotonic() + 5
        while route.received < 120 and time.monotonic() < deadline:
            time.sleep(0.01)
        captures = route.snapshot()
    assert route.received == 120
    assert len(captures) == 40  # the body budget (40 kB) is spent before MAX_CAPTURES
    assert [c.index for c in captures] == list(range(1, 41))
    assert route.unrecorded == 80


def _command_run(tmp_path: Path, body: str, secret: str = SECRET, bound: float = 10.0) -> Any:
    import textwrap

    from punctual_conformance.sender_command import SenderCommand

    script = tmp_path / "sender.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    event = tmp_path / "event.json"
    event.write_text("{}", encoding="utf-8")
    return SenderCommand(f"{sys.executable} {script}").run(
        endpoint_url="https://127.0.0.1:9/hook?x=1", event_file=event, secret=secret,
        ca_bundle=tmp_path / "ca.pem", time_scale=0.01, bound_s=bound)


def test_attempt_lines_after_a_garbage_flood_are_read(tmp_path: Path) -> None:
    run = _command_run(tmp_path, """
        import json, sys
        out = sys.stdout.buffer
        for n in range(60_000):
            out.write(b"noise %d\\n" % n)
        out.write(b"\\xff" * 3_000_000 + b"\\n")
        for depth in (500, 950, 2000):  # nested up to (and past) what the parser allows
            out.write(b'{"attempt": 1, "x": ' + b"[" * depth + b'"s"' + b"]" * depth + b"}\\n")
        print(json.dumps({"attempt": 1, "status": "failed", "response_code": 500,
                          "at": "2024-01-01T00:00:00Z", "final": True}), flush=True)
        sys.exit(1)
    """)
    assert run.exit_code == 1 and run.stdout_truncated
    assert [r.attempt for r in run.reports][-1:] == [1] and run.reports[-1].final
    assert len(run.garbage) == 50


def test_what_a_sender_prints_is_redacted_before_it_is_cut(tmp_path: Path) -> None:
    run = _command_run(tmp_path, f"""
        import json, sys
        secret = {SECRET!r}
        print("x" * 190 + secret)
        print("y" * 8180 + secret + "z" * 100)  # straddles the 8 KiB line cap
        print(json.dumps({{"attempt": 1, "status": secret, "response_code": None,
                           "at": secret + "x"}}))
        print(json.dumps({{"attempt": 2, "status": "failed", "response_code": None,
                           "at": "2024-01-01T00:00:00Z", "note": [secret]}}))
        print(json.dumps({{"attempt": 3, "debug": secret}}).replace("\\\\ufb01", "\\\\uFB01"))
        sys.stderr.write(secret + "e" * 16350 + secret + "\\n" + "f" * 100)  # at the cap
        sys.exit(1)
    """)
    assert run.exit_code == 1
    kept = json.dumps([run.garbage, run.stderr, [r.raw for r in run.reports],
                       [(r.status, r.at) for r in run.reports]], ensure_ascii=False)
    for leak in _leak_forms(SECRET):
        assert leak not in kept and leak not in json.dumps(kept), leak
    assert [r.attempt for r in run.reports] == [1, 2, 3]
    assert run.reports[0].status == "[secret redacted]"
    assert "[secret redacted]" in run.reports[2].raw  # decoded from an escape, redacted
    assert run.garbage[0].endswith("x[secret re")
    assert run.stderr.startswith("[secret redacted]eee") and "e[secret re" in run.stderr


def test_a_process_that_leaves_the_group_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "stray.pid"
    run = _command_run(tmp_path, f"""
        import subprocess, sys
        stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                 start_new_session=True)
        open({str(pid_file)!r}, "w").write(str(stray.pid))
        sys.exit(0)
    """)
    assert run.exit_code == 0 and run.strays_killed == 1
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and "Z" not in \
            Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:1]:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists() or \
        Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


# -- secret hygiene ---------------------------------------------------------------------------


def _leak_forms(secret: str) -> list[str]:
    """The secret as it could appear: plain, JSON- and HTML-escaped (also as XML writes
    it), and its two ends (what a cut through it would leave behind)."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret)[1:-1].upper(),
             html.escape(secret), secret.encode("ascii", "xmlcharrefreplace").decode(),
             secret[:7], secret[-7:]}
    return sorted(forms)


def _assert_no_secret(run: HostileRun, secret: str = SECRET) -> None:
    texts = run.texts()
    assert all(texts[name] for name in ("report.json", "report.html", "junit.xml")), \
        run.explain()
    for name, text in texts.items():
        for leak in _leak_forms(secret):
            assert leak not in text, f"{leak!r} found in {name}"


def test_secret_never_appears_sender_mode_reference(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--punctual-sender-cmd", "reference")
    assert run.returncode == 0 and run.report["verdict"] == "conformant", run.explain()
    _assert_no_secret(run)


def test_secret_never_appears_sender_mode_echoing_sender(hostile: Any) -> None:
    # It prints its secret on stdout (plain, in garbage lines, in attempt-line fields,
    # JSON-escaped) and stderr, and signs with the wrong key: a failing run.
    run = hostile("echo-secret")
    assert_well_behaved(run, expected_exit=1)
    assert {"SND-SIG-01", "SND-RETRY-03", "SND-HIST-01"} <= run.failed(), run.explain()
    _assert_no_secret(run)
    # What it echoed reached the evidence, redacted (so the test above is not vacuous).
    assert "[secret redacted]" in run.texts()["report.json"]
    assert "[secret redacted]" in run.texts()["junit.xml"]


class _EchoingReceiver(ReferenceReceiver):
    """Rejects a bad signature with a 500 whose JSON body (ASCII-escaped by ``json.dumps``)
    names the secret it expected: a failing receiver that leaks its secret to the suite."""

    def reject(self, status: int, message: str) -> Reply:
        return Reply(500 if status == 400 else status,
                     {"error": message, "expected_secret": self._secret,
                      "hint": f"sign with {self._secret}"})


def _receiver_run(workdir: Path, receiver: ReferenceReceiver) -> HostileRun:
    with receiver:
        assert receiver.ca_bundle is not None
        return run_suite(workdir, "--punctual-target", receiver.url, "--punctual-observer",
                         receiver.observer_url, "--punctual-ca-bundle",
                         str(receiver.ca_bundle), "--punctual-examples", "1")


def test_secret_never_appears_receiver_mode_reference(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--punctual-target", "reference", "--punctual-examples", "1")
    assert run.returncode == 0, run.explain()
    assert [row["id"] for row in run.report["requirements"]] == [
        r.id for r in RECEIVER_REQUIREMENTS]
    _assert_no_secret(run)


def test_secret_never_appears_receiver_mode_failing_receiver(tmp_path: Path) -> None:
    run = _receiver_run(tmp_path, _EchoingReceiver(SECRET))
    assert run.returncode == 1 and run.report["verdict"] == "not-conformant", run.explain()
    assert "Traceback" not in run.stdout + run.stderr
    _assert_no_secret(run)


def test_objects_holding_the_secret_never_show_it(tmp_path: Path) -> None:
    from punctual_conformance.catalogue import Mode
    from punctual_conformance.client import TargetClient
    from punctual_conformance.reference_sender import ReferenceSender
    from punctual_conformance.secret import Secret
    from punctual_conformance.sender_command import SenderCommand, SenderJob, parse_line
    from punctual_conformance.sender_history import SenderHistory
    from punctual_conformance.settings import Settings

    event = tmp_path / "event.json"
    event.write_text(json.dumps({"id": "evt_1", "type": "user.created", "data": {}}))
    job = SenderJob.from_environment({
        "PUNCTUAL_ENDPOINT_URL": "https://127.0.0.1:9/hook", "PUNCTUAL_EVENT_FILE": str(event),
        "PUNCTUAL_WEBHOOK_SECRET": SECRET})
    secret = Secret(SECRET)
    command = SenderCommand("reference")
    line = parse_line(json.dumps({"attempt": 1, "status": SECRET}), 0.0, secret.redact)
    settings = Settings(mode=Mode.SENDER, target=None, sender_cmd="reference", ca_bundle=None,
                        observer=None, ack_timeout=10.0, allow_http=False, report=None,
                        report_json=None, examples=1, seed=0, strict=False, secret=secret)
    client = TargetClient("https://127.0.0.1:9/webhook", secret, timeout=1.0)
    with SenderHistory(tmp_path / "history.sqlite3") as history:
        sender = ReferenceSender(SECRET, history, allow_loopback=True)
        receiver = ReferenceReceiver(SECRET)
        try:
            objects: list[object] = [job, secret, command, line, sender, receiver, settings,
                                     client]
            shown = [text for obj in objects for text in (repr(obj), str(obj))]
        finally:
            receiver.stop()
            client.close()
    errors: list[BaseException] = []
    for attempt in (lambda: Secret(""), lambda: __import__("pickle").dumps(secret),
                    lambda: sender.enqueue("http://127.0.0.1/hook", {"type": "x"}),
                    lambda: SenderCommand("python:bad spec"),
                    lambda: SenderJob.from_environment({"PUNCTUAL_WEBHOOK_SECRET": SECRET})):
        try:
            attempt()
        except Exception as error:  # any exception: its text is what is judged
            errors.append(error)
    assert len(errors) == 5
    shown += [text for error in errors for text in (str(error), repr(error))]
    for text in shown:
        for leak in _leak_forms(SECRET):
            assert leak not in text, text
