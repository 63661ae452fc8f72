"""The ``punctual`` command line: every subcommand, its output and its error paths.

Commands run as subprocesses (``python -m punctual_conformance.cli``), as a user runs them,
and in-process through ``main([...])`` where that is handier. All traffic goes to receivers
this module starts on 127.0.0.1; every process started here is ended here.
"""

from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from punctual_conformance.cli import main
from punctual_conformance.cli_trigger import apply_overrides, parse_assignment
from punctual_conformance.contract_docs import asyncapi_document, openapi_document
from punctual_conformance.reference_receiver import Envelope, ReferenceReceiver, Reply
from punctual_conformance.schemas import EVENT_TYPES, envelope_schema, schema_for
from punctual_conformance.signing import sign
from punctual_conformance.vectors import load_vectors, vectors_path

SECRET = "whsec_cli-test-secret-Zr8"
SECRET_ENV = "PUNCTUAL_WEBHOOK_SECRET"
TIMEOUT = 60  # seconds any one command may take before the test fails


def cli_env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in (SECRET_ENV, "PUNCTUAL_CA_BUNDLE", "SSL_CERT_FILE")}
    env[SECRET_ENV] = SECRET
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture(autouse=True)
def in_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """For ``main([...])``: the test secret, and no CA settings from the caller's shell."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv("PUNCTUAL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)


def run_cli(*args: str, stdin: bytes = b"", **env: str | None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "punctual_conformance.cli", *args],
        input=stdin.decode("utf-8", "surrogateescape"),
        capture_output=True,
        text=True,
        env=cli_env(**env),
        timeout=TIMEOUT,
        check=False,
    )
    assert SECRET not in result.stdout + result.stderr, "the secret was printed"
    return result


def assert_usage_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("punctual "), line
    assert ": error: " in line
    for fragment in fragments:
        assert fragment in line, line
    return line


# -- receivers for trigger ---------------------------------------------------------------


class RecordingReceiver(ReferenceReceiver):
    """The reference receiver, remembering each verified event and the bytes it came in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[Envelope] = []
        self.bodies: list[bytes] = []

    def handle_delivery(self, body: bytes, signature: str | None) -> Reply:
        if self.signature_is_valid(body, signature):
            self.bodies.append(body)
        return super().handle_delivery(body, signature)

    def handle_event(self, event: Envelope) -> None:
        self.events.append(event)


class RedirectingReceiver(ReferenceReceiver):
    def acknowledge(self, event: Envelope, duplicate: bool) -> Reply:
        return Reply(307, {}, {"Location": "https://127.0.0.1:1/elsewhere"})


@pytest.fixture
def receiver() -> Iterator[RecordingReceiver]:
    running = RecordingReceiver(SECRET)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def ca_of(receiver: ReferenceReceiver) -> str:
    assert receiver.ca_bundle is not None
    return str(receiver.ca_bundle)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- trigger -----------------------------------------------------------------------------


def test_trigger_delivers_a_signed_event_and_reports_the_answer(
    receiver: RecordingReceiver,
) -> None:
    result = run_cli("trigger", "booking.created", "--url", receiver.url,
                     "--ca-bundle", ca_of(receiver),
                     "--set", "data.object.title=Hello CLI", "--set", "data.object.extra=42")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    [event] = receiver.events
    assert event["type"] == "booking.created"
    assert event["data"]["object"]["title"] == "Hello CLI"
    assert event["data"]["object"]["extra"] == 42  # valid JSON is used as JSON
    assert re.fullmatch(r"evt_[0-9a-f]{32}", event["id"])  # a fresh id
    assert event["id"] in result.stdout and "booking.created" in result.stdout
    assert re.search(r"200 OK in \d+\.\d ms", result.stdout), result.stdout
    assert '{"received": true}' in result.stdout  # the answer's body
    assert "acknowledged" in result.stdout
    # The bytes that arrived are exactly what the event was signed over (the receiver verified).
    assert json.loads(receiver.bodies[0]) == event


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_trigger_sends_every_event_type(receiver: RecordingReceiver, event_type: str) -> None:
    code = main(["trigger", event_type, "--url", receiver.url, "--ca-bundle", ca_of(receiver)])
    assert code == 0
    [event] = receiver.events
    assert event["type"] == event_type
    assert event["data"] == schema_for(event_type)["examples"][0]["data"]
    assert event["created"] != schema_for(event_type)["examples"][0]["created"]


def test_trigger_in_process_with_the_environment(
    receiver: RecordingReceiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PUNCTUAL_CA_BUNDLE", ca_of(receiver))
    code = main(["trigger", "user.created", "--url", receiver.url, "--set", "id=evt_again",
                 "--verbose"])
    assert code == 0
    out = capsys.readouterr().out
    body = receiver.bodies[0]
    assert f"Punctual-Signature: {sign(SECRET, body)}" in out  # --verbose shows what was sent
    assert receiver.events[0]["id"] == "evt_again"
    # Redelivering the same id is acknowledged again (a duplicate), and not processed twice.
    assert main(["trigger", "user.created", "--url", receiver.url, "--set", "id=evt_again"]) == 0
    assert len(receiver.events) == 1
    assert '"duplicate": true' in capsys.readouterr().out


def test_trigger_trusts_ssl_cert_file(receiver: RecordingReceiver) -> None:
    result = run_cli("trigger", "team.member_added", "--url", receiver.url,
                     SSL_CERT_FILE=ca_of(receiver))
    assert result.returncode == 0, result.stderr
    assert len(receiver.events) == 1


def test_trigger_exits_1_when_the_answer_is_not_2xx(receiver: RecordingReceiver) -> None:
    result = run_cli("trigger", "booking.updated", "--url", receiver.url,
                     "--ca-bundle", ca_of(receiver), PUNCTUAL_WEBHOOK_SECRET="whsec_another")
    assert result.returncode == 1, result.stderr
    assert "400 Bad Request" in result.stdout
    assert "invalid Punctual-Signature" in result.stdout  # the answer's body
    assert "not acknowledged" in result.stdout
    assert receiver.events == []
    assert "Traceback" not in result.stderr


def test_trigger_does_not_follow_a_redirect() -> None:
    with RedirectingReceiver(SECRET) as redirecting:
        result = run_cli("trigger", "booking.cancelled", "--url", redirecting.url,
                         "--ca-bundle", ca_of(redirecting))
    assert result.returncode == 1, result.stderr
    assert "307 Temporary Redirect" in result.stdout
    assert "https://127.0.0.1:1/elsewhere is not followed" in result.stdout


def test_trigger_plain_http_with_allow_http() -> None:
    plain = RecordingReceiver(SECRET, plain_http=True)
    with plain:
        result = run_cli("trigger", "availability.updated", "--url", plain.url, "--allow-http")
    assert result.returncode == 0, result.stderr
    assert plain.events[0]["type"] == "availability.updated"


def test_trigger_warns_about_an_invalid_event_and_sends_it(receiver: RecordingReceiver) -> None:
    result = run_cli("trigger", "user.created", "--url", receiver.url, "--ca-bundle",
                     ca_of(receiver), "--set", "data.object.email=not-an-email",
                     "--set", "type=user.renamed")
    assert result.returncode == 0, result.stderr
    # user.renamed is unknown: only the envelope is checked, so the email passes...
    assert "warning" not in result.stdout
    result = run_cli("trigger", "user.created", "--url", receiver.url, "--ca-bundle",
                     ca_of(receiver), "--set", "data.object.email=not-an-email")
    assert result.returncode == 0
    assert "warning: not schema-valid (sent anyway): /data/object/email" in result.stdout
    assert [e["type"] for e in receiver.events] == ["user.renamed", "user.created"]


def test_trigger_unknown_event_type() -> None:
    assert_usage_error(run_cli("trigger", "booking.deleted", "--url", "https://127.0.0.1:1/"),
                       "unknown event type 'booking.deleted'", "booking.created")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "not an absolute https:// URL"),
        ("ftp://127.0.0.1/webhook", "not an absolute https:// URL"),
        ("https://", "not an absolute https:// URL"),
        ("/webhook", "not an absolute https:// URL"),
        ("https://127.0.0.1:99999/webhook", "not a valid URL"),
    ],
)
def test_trigger_bad_url(url: str, fragment: str) -> None:
    assert_usage_error(run_cli("trigger", "booking.created", "--url", url), fragment)


def test_trigger_refuses_http_without_the_flag() -> None:
    line = assert_usage_error(
        run_cli("trigger", "booking.created", "--url", "http://127.0.0.1:1/webhook"),
        "refusing http://", "--allow-http",
    )
    assert "https://" in line


def test_trigger_missing_secret() -> None:
    assert_usage_error(
        run_cli("trigger", "booking.created", "--url", "https://127.0.0.1:1/webhook",
                PUNCTUAL_WEBHOOK_SECRET=None),
        "PUNCTUAL_WEBHOOK_SECRET",
    )
    assert_usage_error(
        run_cli("trigger", "booking.created", "--url", "https://127.0.0.1:1/webhook",
                PUNCTUAL_WEBHOOK_SECRET=""),
        "PUNCTUAL_WEBHOOK_SECRET",
    )


@pytest.mark.parametrize(
    ("assignment", "fragment"),
    [
        ("data.object.title", "expected KEY=VALUE"),
        ("=x", "dotted path"),
        ("data..title=x", "dotted path"),
        ("data.object.=x", "dotted path"),
        ("data.object.user_id.text=x", "data.object.user_id is a string"),
        ("data.object.slots.3.available=false", "array of 3 item(s)"),
        ("data.object.slots.first=1", "'first' is not an index"),
    ],
)
def test_trigger_bad_set(assignment: str, fragment: str) -> None:
    assert_usage_error(
        run_cli("trigger", "availability.updated", "--url", "https://127.0.0.1:1/webhook",
                "--set", assignment),
        "--set", fragment,
    )


def test_trigger_unreadable_ca_bundle(tmp_path: Path) -> None:
    url = "https://127.0.0.1:1/webhook"
    missing = tmp_path / "missing.pem"
    assert_usage_error(run_cli("trigger", "booking.created", "--url", url,
                               "--ca-bundle", str(missing)), "--ca-bundle", "no such file")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert_usage_error(run_cli("trigger", "booking.created", "--url", url,
                               "--ca-bundle", str(junk)), "not a PEM file")
    assert_usage_error(run_cli("trigger", "booking.created", "--url", url,
                               PUNCTUAL_CA_BUNDLE=str(missing)), "$PUNCTUAL_CA_BUNDLE")
    assert_usage_error(run_cli("trigger", "booking.created", "--url", url,
                               SSL_CERT_FILE=str(junk)), "$SSL_CERT_FILE", "not a PEM file")
    assert_usage_error(run_cli("trigger", "booking.created", "--url", url,
                               "--ca-bundle", str(tmp_path)), "no such file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_trigger_ca_bundle_without_read_permission(tmp_path: Path) -> None:  # pragma: no cover
    locked = tmp_path / "locked.pem"
    locked.write_text("x")
    locked.chmod(0)
    assert_usage_error(run_cli("trigger", "booking.created", "--url", "https://127.0.0.1:1/",
                               "--ca-bundle", str(locked)), "cannot read it")


def test_trigger_connection_refused() -> None:
    url = f"https://127.0.0.1:{free_port()}/webhook"
    assert_usage_error(run_cli("trigger", "booking.created", "--url", url),
                       "nothing delivered", "connection refused")


def test_trigger_untrusted_certificate(receiver: RecordingReceiver) -> None:
    assert_usage_error(run_cli("trigger", "booking.created", "--url", receiver.url),
                       "TLS certificate verification failed")
    assert receiver.events == []


def test_trigger_timeout_must_be_positive() -> None:
    result = run_cli("trigger", "booking.created", "--url", "https://127.0.0.1:1/",
                     "--timeout", "0")
    assert result.returncode == 2
    assert "must be greater than 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_trigger_help_states_the_exit_statuses() -> None:
    result = run_cli("trigger", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "0 when the endpoint answered 2xx, 1 when it answered anything else, 2 on bad input" \
        in text
    assert "PUNCTUAL_WEBHOOK_SECRET" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=Hello", (["a"], "Hello")),
        ("a.b=42", (["a", "b"], 42)),
        ("a=true", (["a"], True)),
        ("a=null", (["a"], None)),
        ('a="42"', (["a"], "42")),
        ("a=[1, 2]", (["a"], [1, 2])),
        ("a=", (["a"], "")),
        ("a=x=y", (["a"], "x=y")),
        ("a={not json", (["a"], "{not json")),
    ],
)
def test_parse_assignment(text: str, expected: tuple[list[str], Any]) -> None:
    assert parse_assignment(text) == expected


def test_apply_overrides_creates_objects_and_indexes_arrays() -> None:
    envelope: dict[str, Any] = {"data": {"object": {"slots": [{"available": True}]}}}
    apply_overrides(envelope, ["data.object.slots.0.available=false", "meta.source.kind=cli",
                               "data.object.slots.0=7"])
    assert envelope == {"data": {"object": {"slots": [7]}}, "meta": {"source": {"kind": "cli"}}}


# -- listen ------------------------------------------------------------------------------


class Listener:
    """``punctual listen`` as a subprocess, its stdout read line by line in a thread."""

    def __init__(self, *args: str, **env: str | None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "punctual_conformance.cli", "listen", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(**env),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; got {self.seen}") from None
            if line is None:
                raise AssertionError(f"listen ended before {pattern!r}; got {self.seen}")
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout=TIMEOUT)
        finally:
            if self.process.poll() is None:  # pragma: no cover - only if it hangs
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=TIMEOUT)
        assert self.process.stderr is not None
        stderr = self.process.stderr.read()
        self.process.stderr.close()
        return code, stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_listen_prints_each_verified_event(signum: int) -> None:
    listener = Listener("--port", "0", "--verbose")
    try:
        url = listener.wait_for(r"^webhook URL:\s+(https://127\.0\.0\.1:\d+/webhook)$").group(1)
        ca = listener.wait_for(r"^CA bundle:\s+(\S+\.pem)$").group(1)
        assert Path(ca).is_file()
        listener.wait_for("Ctrl-C to stop")

        result = run_cli("trigger", "booking.created", "--url", url, "--ca-bundle", ca,
                         "--set", "id=evt_listen_1", "--set", "data.object.title=Über")
        assert result.returncode == 0, result.stdout + result.stderr
        listener.wait_for(r"^\d\d:\d\d:\d\d received evt_listen_1 booking\.created$")
        listener.wait_for(r'"title": "Über"')  # --verbose: the event's JSON

        again = run_cli("trigger", "booking.created", "--url", url, "--ca-bundle", ca,
                        "--set", "id=evt_listen_1")
        assert again.returncode == 0
        listener.wait_for(r"duplicate evt_listen_1 booking\.created")

        forged = run_cli("trigger", "user.created", "--url", url, "--ca-bundle", ca,
                         PUNCTUAL_WEBHOOK_SECRET="whsec_forged")
        assert forged.returncode == 1
        listener.wait_for(r"rejected \(400\): missing or invalid Punctual-Signature")
    finally:
        code, stderr = listener.stop(signum)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "stopped" in stderr
    assert not any("user.created" in line for line in listener.seen if "received" in line)


def test_listen_missing_secret() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "punctual_conformance.cli", "listen", "--port", "0"],
        capture_output=True, text=True, env=cli_env(PUNCTUAL_WEBHOOK_SECRET=None),
        timeout=TIMEOUT, check=False,
    )
    assert_usage_error(result, "PUNCTUAL_WEBHOOK_SECRET")


def test_listen_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "punctual_conformance.cli", "listen", "--port", str(port)],
            capture_output=True, text=True, env=cli_env(), timeout=TIMEOUT, check=False,
        )
    assert_usage_error(result, f"cannot listen on 127.0.0.1:{port}")


def test_listen_bad_port() -> None:
    result = run_cli("listen", "--port", "70000")
    assert result.returncode == 2
    assert "not between 0 and 65535" in result.stderr
    assert "Traceback" not in result.stderr


# -- sign / verify -----------------------------------------------------------------------


BODY = '{"id":"evt_1","type":"booking.created","note":"Zürich 東京"}\n'.encode()


def test_sign_prints_the_signature_of_stdins_exact_bytes() -> None:
    result = run_cli("sign", stdin=BODY)
    assert result.returncode == 0, result.stderr
    assert result.stdout == sign(SECRET, BODY) + "\n"
    assert result.stdout.strip() != sign(SECRET, BODY.rstrip(b"\n"))  # the newline counts


def test_sign_missing_secret() -> None:
    assert_usage_error(run_cli("sign", stdin=BODY, PUNCTUAL_WEBHOOK_SECRET=None),
                       "PUNCTUAL_WEBHOOK_SECRET")


def test_verify_valid_and_invalid() -> None:
    good = run_cli("verify", "--signature", sign(SECRET, BODY), stdin=BODY)
    assert (good.returncode, good.stdout) == (0, "valid signature\n")
    bad = run_cli("verify", "--signature", sign("whsec_other", BODY), stdin=BODY)
    assert bad.returncode == 1
    assert bad.stdout.startswith("invalid signature")
    prefixed = run_cli("verify", "--signature", "sha256=" + sign(SECRET, BODY), stdin=BODY)
    assert prefixed.returncode == 1
    assert "without a prefix" in prefixed.stdout
    for result in (good, bad, prefixed):
        assert result.stderr == ""


def test_verify_needs_a_signature_and_a_secret() -> None:
    result = run_cli("verify", stdin=BODY)
    assert result.returncode == 2
    assert "--signature" in result.stderr
    assert "Traceback" not in result.stderr
    assert_usage_error(run_cli("verify", "--signature", "00", stdin=BODY,
                               PUNCTUAL_WEBHOOK_SECRET=None), "PUNCTUAL_WEBHOOK_SECRET")


def _stdin(monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body)))


def test_sign_and_verify_agree_with_every_signing_vector(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vectors = load_vectors()
    assert vectors
    for vector in vectors:
        monkeypatch.setenv(SECRET_ENV, vector.secret)
        _stdin(monkeypatch, vector.body)
        if not vector.secret:  # an empty variable counts as unset: the CLI refuses it
            assert main(["sign"]) == 2
            assert SECRET_ENV in capsys.readouterr().err
            continue
        assert main(["sign"]) == 0
        assert capsys.readouterr().out == vector.signature + "\n", vector.name
        if vector.header is None:
            continue
        _stdin(monkeypatch, vector.body)
        assert main(["verify", "--signature", vector.header]) == (0 if vector.valid else 1), \
            vector.name
        capsys.readouterr()


# -- vectors / schema / openapi / asyncapi -----------------------------------------------


def test_vectors_prints_the_vectors_file() -> None:
    result = run_cli("vectors", PUNCTUAL_WEBHOOK_SECRET=None)  # no secret needed
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(vectors_path().read_text(encoding="utf-8"))
    path = run_cli("vectors", "--path")
    assert Path(path.stdout.strip()) == vectors_path()


def test_vectors_rejects_an_argument() -> None:
    result = run_cli("vectors", "extra")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


def test_schema_prints_each_schema(capsys: pytest.CaptureFixture[str]) -> None:
    for event_type in EVENT_TYPES:
        assert main(["schema", event_type]) == 0
        assert json.loads(capsys.readouterr().out) == schema_for(event_type)
    assert main(["schema", "envelope"]) == 0
    assert json.loads(capsys.readouterr().out) == envelope_schema()


def test_schema_list_and_bundled() -> None:
    listed = run_cli("schema", "--list", PUNCTUAL_WEBHOOK_SECRET=None)
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == list(EVENT_TYPES)
    bundled = run_cli("schema", "booking.updated", "--bundled")
    assert bundled.returncode == 0
    document = json.loads(bundled.stdout)
    assert set(document["$defs"]) == {"envelope", "defs"}
    assert "envelope.schema.json" not in bundled.stdout  # every $ref is local


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["schema", "booking.deleted"], "unknown event type 'booking.deleted'"),
        (["schema"], "name an event type"),
        (["schema", "booking.created", "--list"], "either an event type or --list"),
        (["schema", "envelope", "--bundled"], "self-contained already"),
    ],
)
def test_schema_errors(args: list[str], fragment: str) -> None:
    assert_usage_error(run_cli(*args), fragment)


def test_openapi_prints_the_generated_document() -> None:
    result = run_cli("openapi", PUNCTUAL_WEBHOOK_SECRET=None)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == openapi_document()


def test_asyncapi_prints_the_generated_document(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli("asyncapi", PUNCTUAL_WEBHOOK_SECRET=None)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == asyncapi_document()
    assert main(["asyncapi"]) == 0
    assert json.loads(capsys.readouterr().out) == asyncapi_document()


@pytest.mark.parametrize("command", ["openapi", "asyncapi", "vectors"])
def test_document_commands_take_no_arguments(command: str) -> None:
    result = run_cli(command, "--bogus")
    assert result.returncode == 2
    assert "unrecognized arguments: --bogus" in result.stderr


# -- the program as a whole --------------------------------------------------------------


def test_help_lists_every_subcommand() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("trigger", "listen", "sign", "verify", "vectors", "schema", "openapi",
                    "asyncapi"):
        assert command in result.stdout
    assert "PUNCTUAL_WEBHOOK_SECRET" in result.stdout


def test_version_and_missing_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("punctual ")
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "punctual"
    if not script.exists():  # pragma: no cover - e.g. a non-editable layout
        pytest.skip("no punctual script beside this interpreter")
    result = subprocess.run([str(script), "schema", "--list"], capture_output=True, text=True,
                            env=cli_env(), timeout=TIMEOUT, check=False)
    assert result.returncode == 0
    assert result.stdout.split() == list(EVENT_TYPES)


def test_broken_pipe_is_quiet() -> None:
    command = [sys.executable, "-m", "punctual_conformance.cli", "asyncapi"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=cli_env()) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # like `| head` that ended before the output began
        stderr = process.stderr.read()
        code = process.wait(timeout=TIMEOUT)
    assert b"Traceback" not in stderr
    assert code == 0
