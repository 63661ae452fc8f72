"""The product page's three receiver examples, run verbatim as targets of the suite.

Each example (``shared/seed-receivers`` beside the checkout: Node with express, Flask,
``php -S``) is copied
unchanged into a temporary folder and started as the page implies, with
``PUNCTUAL_WEBHOOK_SECRET`` in its environment; the suite then checks it over plain HTTP
(``--punctual-allow-http``, no observer) and these tests assert the exact verdict, the exact
failed rows and the exact not-verified rows, each with the reason found in the example's
code. One extra, clearly labelled PHP run changes only PHP's runtime configuration
(``-d variables_order=EGPCS``), never the code, to show what the missing ``$_ENV`` costs.

Two examples hard-code port 3000, so each receiver is started, checked and stopped (its whole
process group) inside one fixture setup: never two at a time. Their stdout and stderr go to
files in the test's temporary folder (named in every failure message).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from paths import ROOT, SHARED
from punctual_conformance.catalogue import RECEIVER_REQUIREMENTS
from punctual_conformance.events import new_event
from suite_runner import SuiteRun, run_suite
from toolchains import require_executable, skip_or_fail

pytestmark = pytest.mark.slow

#: The page's examples, verbatim and read-only (copied before they are run).
SEED_RECEIVERS = SHARED / "seed-receivers"
#: express for the Node example: `npm install --prefix tests/node` (package.json).
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"

SECRET = "whsec_seed-receivers-Zq9"  # a throw-away test secret
HOST = "127.0.0.1"  # all traffic stays on the loopback interface
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0

TLS_ROWS = {"RCV-TLS-01", "RCV-TLS-02", "RCV-TLS-03"}  # skipped in development mode
NO_OBSERVER = "needs an observer"
OBSERVER_ROWS = {
    rid: (NO_OBSERVER, "no observer in these runs (none of the examples has one, or dedupes)")
    for rid in ("RCV-SIG-08", "RCV-IDEM-02", "RCV-IDEM-03", "RCV-IDEM-04")
}

#: (substring of the row's reason in the JSON report, why the example earns the row)
Row = tuple[str, str]


@dataclass(frozen=True)
class Expected:
    verdict: str
    exit_code: int  # of the suite's pytest run: 1 when a MUST row failed
    failed: dict[str, Row]
    not_verified: dict[str, Row]
    forged_status: int  # answer to a delivery signed with the EMPTY secret (probe of our own)
    log_has: tuple[str, ...] = ()  # in the receiver's stdout + stderr
    log_lacks: tuple[str, ...] = ()


_NODE = Expected(
    verdict="conformant-with-warnings",
    exit_code=0,
    failed={
        "RCV-ACK-07": ("413 after", "`express.raw({ type: 'application/json' })` keeps "
                       "body-parser's default 100 kB limit: the 215 kB event gets 413"),
    },
    not_verified=OBSERVER_ROWS,
    forged_status=400,  # the secret is read correctly: an empty-key signature is refused
    log_has=("Webhook server running on port 3000",
             "PayloadTooLargeError: request entity too large"),
)

_FLASK_500 = "`os.environ[...]` is used but `os` is never imported: NameError, 500 on every POST"
_FLASK_NOT_ACKED = "first delivery was not acknowledged (500"
_FLASK = Expected(
    verdict="not-conformant",
    exit_code=1,
    failed={
        "RCV-ACK-01": ("500 after", _FLASK_500),
        "RCV-ACK-04": ("500 after", _FLASK_500),
        "RCV-ACK-05": ("500 after", _FLASK_500),
        "RCV-ACK-06": ("5 of 5 not acknowledged; first: 500", _FLASK_500),
        "RCV-ACK-07": ("500 after", _FLASK_500),
        "RCV-SIG-05": ("500 after", _FLASK_500),
        "RCV-SIG-06": ("without a Punctual-Signature header: 500",
                       "bad signatures crash with 500 too (a sender retries a 5xx), not 4xx"),
        "RCV-SIG-07": ("without a Punctual-Signature header: 500",
                       "the example's own `return ..., 400` is never reached"),
        "RCV-IDEM-03": ("10 not acknowledged; first: 500",
                        "none of the 10 concurrent copies is acknowledged (NameError)"),
    },
    not_verified={
        "RCV-ACK-02": ("no valid delivery was acknowledged", "every valid delivery got 500"),
        "RCV-SIG-08": OBSERVER_ROWS["RCV-SIG-08"],
        "RCV-IDEM-01": (_FLASK_NOT_ACKED, "redelivery cannot be judged: the first got 500"),
        "RCV-IDEM-02": (_FLASK_NOT_ACKED, "the first delivery got 500 (before the observer)"),
        "RCV-IDEM-04": (_FLASK_NOT_ACKED, "the first delivery got 500 (before the observer)"),
    },
    forged_status=500,
    log_has=("NameError: name 'os' is not defined",),
)

_PHP_NULL_HEADER = ("without the header `$_SERVER['HTTP_PUNCTUAL_SIGNATURE']` is null and "
                    "`hash_equals(null, ...)` throws a TypeError: fatal error, 500")
_PHP_SIG_ROWS = {
    "RCV-SIG-06": ("without a Punctual-Signature header: 500", _PHP_NULL_HEADER),
    "RCV-SIG-07": ("without a Punctual-Signature header: 500", _PHP_NULL_HEADER),
}
_PHP_TYPE_ERROR = ("hash_equals(): Argument #1 ($known_string) must be of type string, "
                   "null given")
_PHP_NO_ENV_400 = ("`$_ENV['PUNCTUAL_WEBHOOK_SECRET']` is unset (variables_order has no E): "
                   "the HMAC is keyed with '' and every correct signature is refused 400")
_PHP_NOT_ACKED = "first delivery was not acknowledged (400"
#: `php -S` as the page implies, under a php.ini whose variables_order lacks E (Debian's php-cli:
#: GPCS, as in php.ini-production and php.ini-development): $_ENV is empty.
_PHP_WITHOUT_ENV = Expected(
    verdict="not-conformant",
    exit_code=1,
    failed={
        "RCV-ACK-01": ("400 after", _PHP_NO_ENV_400),
        "RCV-ACK-04": ("400 after", _PHP_NO_ENV_400),
        "RCV-ACK-05": ("400 after", _PHP_NO_ENV_400),
        "RCV-ACK-06": ("5 of 5 not acknowledged; first: 400", _PHP_NO_ENV_400),
        "RCV-ACK-07": ("400 after", _PHP_NO_ENV_400),
        "RCV-SIG-02": ("the empty secret Observed: 200",
                       "the key really is '': a signature made with the empty secret is "
                       "accepted, so anyone can forge events"),
        "RCV-SIG-05": ("400 after", _PHP_NO_ENV_400),
        **_PHP_SIG_ROWS,
        "RCV-IDEM-03": ("10 not acknowledged; first: 400", _PHP_NO_ENV_400),
    },
    not_verified={
        "RCV-ACK-02": ("no valid delivery was acknowledged", "every valid delivery got 400"),
        "RCV-SIG-08": OBSERVER_ROWS["RCV-SIG-08"],
        "RCV-IDEM-01": (_PHP_NOT_ACKED, "redelivery cannot be judged: the first got 400"),
        "RCV-IDEM-02": (_PHP_NOT_ACKED, "the first delivery got 400 (before the observer)"),
        "RCV-IDEM-04": (_PHP_NOT_ACKED, "the first delivery got 400 (before the observer)"),
    },
    forged_status=200,  # anyone can forge: the key really is the empty string
    log_has=('Undefined array key "PUNCTUAL_WEBHOOK_SECRET"', _PHP_TYPE_ERROR),
)
#: The same code with $_ENV filled (variables_order contains E): only the missing header hurts.
_PHP_WITH_ENV = Expected(
    verdict="not-conformant",
    exit_code=1,
    failed=dict(_PHP_SIG_ROWS),
    not_verified=OBSERVER_ROWS,
    forged_status=400,
    log_has=(_PHP_TYPE_ERROR,),
    log_lacks=('Undefined array key "PUNCTUAL_WEBHOOK_SECRET"',),
)


@dataclass(frozen=True)
class SeedReceiver:
    name: str
    source: str  # path inside SEED_RECEIVERS
    sha256: str  # of the verbatim file these expectations were written against
    fixed_port: int | None  # None: a free port is chosen (php -S takes it on the command line)
    path: str = "/webhook"
    php_options: tuple[str, ...] = ()  # PHP runtime configuration only; the code stays verbatim

    @property
    def file(self) -> Path:
        return SEED_RECEIVERS / self.source


RECEIVERS = {
    "node-express": SeedReceiver(
        "node-express", "node-express/server.js",
        "ae133280df60464e958695c5dfa18eb76743172b7c9ab1882b0728a717872d68", 3000),
    "python-flask": SeedReceiver(
        "python-flask", "python-flask/app.py",
        "91c6d087179a0f6db5bfcf70b78f977693f0fbaac22f90129b81e7245b5ee7eb", 3000),
    "php": SeedReceiver(
        "php", "php/webhook.php",
        "133b11230d7cded4b2a631b357a4631197e0e9beb9455d69bf85a42af0cb0ccf", None),
    # Extra run, labelled: ONLY PHP's runtime configuration differs (E fills $_ENV).
    "php-config-variables_order=EGPCS": SeedReceiver(
        "php-config-variables_order=EGPCS", "php/webhook.php",
        "133b11230d7cded4b2a631b357a4631197e0e9beb9455d69bf85a42af0cb0ccf", None,
        php_options=("-d", "variables_order=EGPCS")),
}


@dataclass
class SeedRun:
    receiver: SeedReceiver
    expected: Expected
    suite: SuiteRun
    forged: str  # "<status>" or the transport error of the empty-secret probe
    stdout_log: Path
    stderr_log: Path
    logs: str = field(default="")

    def explain(self) -> str:
        return (f"{self.suite.explain()}\n--- receiver logs: {self.stdout_log}, "
                f"{self.stderr_log}\n{self.logs[-3000:]}")


def _check_source(receiver: SeedReceiver) -> None:
    __tracebackhide__ = True
    if not receiver.file.is_file():
        skip_or_fail(f"the seed's receiver examples are not at {SEED_RECEIVERS}")
    digest = hashlib.sha256(receiver.file.read_bytes()).hexdigest()
    assert digest == receiver.sha256, (
        f"{receiver.file} changed (sha256 {digest}); these expectations were written for "
        "the page's example as it was: review them against the new code")


def _php_config(php: str, options: tuple[str, ...]) -> tuple[str, str]:
    """variables_order and display_errors as `php -S` with ``options`` gets them (same ini)."""
    code = 'echo ini_get("variables_order"), "\\n", ini_get("display_errors"), "\\n";'
    out = subprocess.run([php, *options, "-r", code], capture_output=True, text=True,
                         timeout=30, check=True).stdout.split("\n")
    return out[0], out[1]


def _expected_for(receiver: SeedReceiver) -> Expected:
    """Check the toolchain (skip locally / fail in CI without it) and pick the expectations."""
    __tracebackhide__ = True
    if receiver.name == "node-express":
        require_executable("node", "running the page's Node example")
        if not (NODE_MODULES / "express" / "package.json").is_file():
            skip_or_fail(f"express is not installed in {NODE_MODULES}: run "
                          "`npm install --prefix tests/node`")
        return _NODE
    if receiver.name == "python-flask":
        if importlib.util.find_spec("flask") is None:
            skip_or_fail(f"flask is not installed for {sys.executable}: pip install -e '.[test]'")
        return _FLASK
    php = require_executable("php", "running the page's PHP example (Debian package php-cli)")
    variables_order, display_errors = _php_config(php, receiver.php_options)
    if display_errors.strip().lower() not in {"", "0", "off", "no", "false", "stderr"}:
        # With display_errors on, the warning is printed before the fatal error, the status
        # line goes out as 200 and a missing signature is acknowledged: other rows fail.
        skip_or_fail(f"this php has display_errors={display_errors!r}; the expectations "
                      "assume it off, as in Debian's php-cli php.ini")
    return _PHP_WITH_ENV if "E" in variables_order.upper() else _PHP_WITHOUT_ENV


def _ensure_port_free(port: int, name: str) -> None:
    """Fail clearly when something already listens on ``port`` (TIME_WAIT is no obstacle)."""
    __tracebackhide__ = True
    for family, host in ((socket.AF_INET, HOST), (socket.AF_INET, "0.0.0.0"),
                         (socket.AF_INET6, "::")):
        try:
            probe = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 here
        with probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    continue
                pytest.fail(f"port {port} is already in use ({host}): the seed's {name} "
                            f"example hard-codes it. Stop whatever listens there (see `ss "
                            f"-ltnp 'sport = :{port}'`) and run the tests again.")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _command(receiver: SeedReceiver, port: int) -> list[str]:
    script = receiver.file.name
    if receiver.name == "node-express":
        return [shutil.which("node") or "node", script]
    if receiver.name == "python-flask":
        return [sys.executable, script]
    return [shutil.which("php") or "php", *receiver.php_options, "-S", f"{HOST}:{port}", script]


def _wait_ready(process: subprocess.Popen[bytes], port: int, logs: Path) -> None:
    __tracebackhide__ = True
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the receiver exited with {process.returncode} before listening on "
                        f"{port}; its stderr ({logs}):\n{logs.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    pytest.fail(f"the receiver did not listen on {HOST}:{port} within {READY_TIMEOUT_S:g} s "
                f"(logs: {logs})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the receiver's whole process group (ours: it was started in a new session)."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _keep_example_report(receiver: SeedReceiver, suite: SuiteRun) -> None:
    """`nox -s reports` sets PUNCTUAL_EXAMPLE_REPORTS to keep these runs' reports."""
    keep = os.environ.get("PUNCTUAL_EXAMPLE_REPORTS")
    if not keep:
        return
    Path(keep).mkdir(parents=True, exist_ok=True)
    for suffix in ("html", "json"):
        source = suite.workdir / f"report.{suffix}"
        if source.is_file():
            shutil.copyfile(source, Path(keep) / f"seed-{receiver.name}.{suffix}")


def _forge_with_empty_secret(url: str) -> str:
    """Deliver a valid event signed with the EMPTY secret: a receiver that lost its secret
    (keyed with '') accepts it, which makes signatures forgeable by anyone."""
    body = new_event("booking.created").body
    signature = hmac.new(b"", body, hashlib.sha256).hexdigest()
    try:
        response = httpx.post(url, content=body, timeout=10, trust_env=False, headers={
            "Content-Type": "application/json", "Punctual-Signature": signature})
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    return str(response.status_code)


@pytest.fixture(scope="module", params=list(RECEIVERS))
def seed_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SeedRun:
    """Start one example, run the suite against it, probe it once more, stop it."""
    receiver = RECEIVERS[request.param]
    _check_source(receiver)
    expected = _expected_for(receiver)
    workdir = tmp_path_factory.mktemp(f"seed-{receiver.name.replace('=', '-')}")
    code_dir = workdir / "receiver"
    code_dir.mkdir()
    shutil.copyfile(receiver.file, code_dir / receiver.file.name)  # verbatim copy
    if receiver.name == "node-express":
        (code_dir / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    port = receiver.fixed_port or _free_port()
    if receiver.fixed_port is not None:
        _ensure_port_free(port, receiver.name)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PUNCTUAL_")}
    environment["PUNCTUAL_WEBHOOK_SECRET"] = SECRET
    stdout_log, stderr_log = workdir / "receiver.stdout.log", workdir / "receiver.stderr.log"
    url = f"http://{HOST}:{port}{receiver.path}"
    with stdout_log.open("wb") as out, stderr_log.open("wb") as err:
        process = subprocess.Popen(_command(receiver, port), cwd=code_dir, env=environment,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                   start_new_session=True)
        try:
            _wait_ready(process, port, stderr_log)
            suite = run_suite(workdir / "suite", "--punctual-target", url,
                              "--punctual-allow-http", secret=SECRET, html=True)
            _keep_example_report(receiver, suite)
            forged = _forge_with_empty_secret(url)
            still_running = process.poll() is None
        finally:
            _stop(process)
    run = SeedRun(receiver, expected, suite, forged, stdout_log, stderr_log)
    run.logs = (stdout_log.read_text(errors="replace") + "\n"
                + stderr_log.read_text(errors="replace"))
    assert still_running, f"the receiver died during the run\n{run.explain()}"
    return run


def _rows(run: SeedRun, outcome: str) -> dict[str, str]:
    return {row["id"]: row["reason"] for row in run.suite.report.get("requirements", [])
            if row["outcome"] == outcome}


def test_verdict(seed_run: SeedRun) -> None:
    report = seed_run.suite.report
    assert report, seed_run.explain()
    assert report["verdict"] == seed_run.expected.verdict, seed_run.explain()
    assert seed_run.suite.returncode == seed_run.expected.exit_code, seed_run.explain()
    assert report["development_mode"] is True
    assert report["conformance_claim"] is False  # plain HTTP: never a conformance claim
    assert "Traceback" not in seed_run.suite.stderr


def test_failed_rows(seed_run: SeedRun) -> None:
    failed = _rows(seed_run, "failed")
    assert set(failed) == set(seed_run.expected.failed), seed_run.explain()
    for rid, (evidence, why) in seed_run.expected.failed.items():
        assert evidence in failed[rid], f"{rid} ({why}): {failed[rid]!r}"


def test_not_verified_rows(seed_run: SeedRun) -> None:
    not_verified = _rows(seed_run, "not-verified")
    assert set(not_verified) == set(seed_run.expected.not_verified), seed_run.explain()
    for rid, (evidence, why) in seed_run.expected.not_verified.items():
        assert evidence in not_verified[rid], f"{rid} ({why}): {not_verified[rid]!r}"


def test_every_other_row_passed_or_skipped(seed_run: SeedRun) -> None:
    expected = {r.id: "passed" for r in RECEIVER_REQUIREMENTS}
    expected.update({rid: "skipped" for rid in TLS_ROWS})  # development mode
    expected.update({rid: "failed" for rid in seed_run.expected.failed})
    expected.update({rid: "not-verified" for rid in seed_run.expected.not_verified})
    assert seed_run.suite.outcomes() == expected, seed_run.explain()


def test_receiver_logs_show_the_cause(seed_run: SeedRun) -> None:
    for line in seed_run.expected.log_has:
        assert line in seed_run.logs, f"{line!r} not in the receiver's logs\n{seed_run.explain()}"
    for line in seed_run.expected.log_lacks:
        assert line not in seed_run.logs, f"{line!r} in the receiver's logs\n{seed_run.explain()}"
    assert SECRET not in seed_run.logs  # none of the examples logs its secret


def test_empty_secret_signature(seed_run: SeedRun) -> None:
    # Not a suite row: a forged delivery signed with the empty key. Only a receiver whose HMAC
    # key silently became '' (the PHP example without $_ENV) acknowledges it.
    assert seed_run.forged == str(seed_run.expected.forged_status), seed_run.explain()
