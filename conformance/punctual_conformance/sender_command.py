"""Running a sender under test through the sender command contract (profile section 5).

:class:`SenderCommand` turns the ``--punctual-sender-cmd`` value into an argument vector:

* ``reference``: the bundled reference sender
  (``python -m punctual_conformance.reference_sender send --allow-loopback``);
* ``python:pkg.module:function``: a sender written in Python, called as ``function(job)``
  with a :class:`SenderJob` and returning the exit code. It runs in a child process (this
  module's ``main``), like any command, so it can be bounded and killed;
* anything else: split as a shell splits words (:func:`shlex.split`) and run without a shell.

:meth:`SenderCommand.run` adds the section 5 environment, reads stdout line by line while the
sender runs (each JSON attempt line is parsed defensively: a line that is not one is kept as
evidence, never an error), caps what it keeps of stdout and stderr, and ends the whole process
group when the sender outlives its bound or the caller says the scenario is over. It never
hangs: every wait has a deadline.

Hostile senders (decisions):

* Every stdout line is parsed however much the sender prints (a flood of garbage never hides
  the attempt lines after it); what is *kept* is capped (:data:`KEPT_REPORTS` attempt lines,
  :data:`KEPT_GARBAGE` garbage lines of 200 characters, :data:`STDERR_CAP` of stderr), so
  memory stays bounded; a line longer than :data:`LINE_CAP` is read in pieces and skipped.
* Whatever the sender prints is redacted (the secret, also JSON-escaped; and any string a
  JSON line decodes to) *before* it is cut or parsed, so neither a cut through the secret
  nor an escaped copy of it reaches a report, a failure message or the terminal.
* A process the sender leaves behind in a session of its own (out of reach of the process
  group kill) is found by a token in its environment (``PUNCTUAL_SENDER_RUN``, inherited by
  every descendant) and killed too (Linux: ``/proc``; elsewhere only the group is killed).

Beyond the contract, a sender may declare its retry schedule in one stdout line (the suite
then judges backoff against it)::

    {"schedule": {"first_delay_s": 60, "factor": 2, "jitter": 0.1, "max_attempts": 12,
                  "timeout_s": 10}}

Delays are unscaled seconds; ``jitter`` is the bound of the relative random deviation of each
delay (0.1: each delay is within ±10 % of its nominal value).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from punctual_conformance.secret import SECRET_ENV, Secret

__all__ = [
    "ENDPOINT_ENV",
    "EVENT_FILE_ENV",
    "PYTHON_PREFIX",
    "REFERENCE_WORD",
    "TIME_SCALE_ENV",
    "AttemptReport",
    "CommandError",
    "Declaration",
    "SenderCommand",
    "SenderJob",
    "SenderRun",
    "main",
]

ENDPOINT_ENV = "PUNCTUAL_ENDPOINT_URL"
EVENT_FILE_ENV = "PUNCTUAL_EVENT_FILE"
CA_BUNDLE_ENV = "PUNCTUAL_CA_BUNDLE"
TIME_SCALE_ENV = "PUNCTUAL_TIME_SCALE"
RUN_MARKER_ENV = "PUNCTUAL_SENDER_RUN"  # marks the sender's descendants (see _kill_strays)
REFERENCE_WORD = "reference"
PYTHON_PREFIX = "python:"

LINE_CAP = 8 * 1024  # characters of one stdout line considered
STDERR_CAP = 16 * 1024  # characters of stderr kept
KEPT_GARBAGE = 50  # garbage lines kept as evidence
KEPT_REPORTS = 2000


class CommandError(ValueError):
    """The sender command cannot be understood (an empty command, a bad python: spec)."""


@dataclass(frozen=True)
class AttemptReport:
    """One attempt line of the sender (fields ``None`` when absent or of the wrong type)."""

    attempt: int | None
    status: str | None
    response_code: int | None
    at: str | None
    final: bool
    received: float  # monotonic: when the suite read the line
    raw: str
    problems: tuple[str, ...] = ()

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


@dataclass(frozen=True)
class Declaration:
    """A retry schedule the sender declared on stdout."""

    first_delay_s: float | None = None
    factor: float | None = None
    jitter: float | None = None
    max_attempts: int | None = None
    timeout_s: float | None = None


@dataclass
class SenderRun:
    """What one run of the sender command did."""

    display: str  # the command, for reports
    started: float  # monotonic
    ended: float = 0.0
    exit_code: int | None = None  # None: it did not exit by itself
    outlived_bound: bool = False
    stopped_by_suite: bool = False  # the scenario ended (e.g. after the grace period)
    launch_error: str | None = None
    reports: list[AttemptReport] = field(default_factory=list)
    declaration: Declaration | None = None
    garbage: list[str] = field(default_factory=list)
    stdout_truncated: bool = False  # an overlong line, or more lines than are kept
    stderr: str = ""
    strays_killed: int = 0  # processes left behind outside the process group, killed

    @property
    def duration_s(self) -> float:
        return self.ended - self.started

    def describe_exit(self) -> str:
        if self.launch_error:
            return f"could not start: {self.launch_error}"
        if self.outlived_bound:
            return f"still running after the scenario's bound ({self.duration_s:.1f} s): killed"
        if self.exit_code is None:
            return f"stopped by the suite after {self.duration_s:.2f} s"
        if self.exit_code < 0:
            return f"killed by {_signal_name(-self.exit_code)} after {self.duration_s:.2f} s"
        return f"exit {self.exit_code} after {self.duration_s:.2f} s"

    def exit_kind(self) -> str:
        """How the run ended, without its duration (for summaries over many runs)."""
        if self.launch_error:
            return f"could not start: {self.launch_error}"
        if self.outlived_bound:
            return "still running at the scenario's bound: killed"
        if self.exit_code is None:
            return "stopped by the suite"
        if self.exit_code < 0:
            return f"killed by {_signal_name(-self.exit_code)}"
        return f"exit {self.exit_code}"


def _signal_name(number: int) -> str:
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_line(line: str, received: float,
               redact: Callable[[str], str] | None = None) -> AttemptReport | Declaration | None:
    """An attempt report, a schedule declaration, or ``None`` (garbage) for one stdout line.

    With ``redact``, every string the line decodes to is redacted too (a secret may be
    escaped in ways a text search misses); ``raw`` is then the redacted re-serialization."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    if redact is not None:
        try:
            cleaned = _redact_json(value, redact)
            if cleaned != value:
                value = cleaned
                line = json.dumps(cleaned, ensure_ascii=False)
        except RecursionError:  # nested as deep as the parser allows: garbage
            return None
    if "schedule" in value and isinstance(value["schedule"], dict):
        s = value["schedule"]
        return Declaration(
            first_delay_s=_number_or_none(s.get("first_delay_s")),
            factor=_number_or_none(s.get("factor")),
            jitter=_number_or_none(s.get("jitter")),
            max_attempts=_int_or_none(s.get("max_attempts")),
            timeout_s=_number_or_none(s.get("timeout_s")),
        )
    if "attempt" not in value:
        return None
    problems = []
    attempt = _int_or_none(value.get("attempt"))
    if attempt is None:
        problems.append("attempt is not an integer")
    status = value.get("status") if isinstance(value.get("status"), str) else None
    if status is None:
        problems.append("status is not a string")
    code_raw = value.get("response_code")
    code = _int_or_none(code_raw)
    if code_raw is not None and code is None:
        problems.append("response_code is neither an integer nor null")
    at = value.get("at") if isinstance(value.get("at"), str) else None
    final = value.get("final") is True
    return AttemptReport(attempt, status, code, at, final, received, line[:500],
                         tuple(problems))


def _redact_json(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): _redact_json(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_json(v, redact) for v in value]
    return value


@dataclass(frozen=True)
class SenderJob:
    """What a Python sender (``python:pkg.module:function``) is asked to do."""

    endpoint_url: str
    event: dict[str, Any]
    event_file: Path
    ca_bundle: Path | None
    time_scale: float
    secret: str = field(repr=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SenderJob:
        env = os.environ if environ is None else environ
        event_file = Path(env[EVENT_FILE_ENV])
        event = json.loads(event_file.read_text(encoding="utf-8"))
        ca = env.get(CA_BUNDLE_ENV)
        return cls(endpoint_url=env[ENDPOINT_ENV], event=event, event_file=event_file,
                   ca_bundle=Path(ca) if ca else None,
                   time_scale=float(env.get(TIME_SCALE_ENV) or 1.0),
                   secret=env[SECRET_ENV])

    @staticmethod
    def report(attempt: int, status: str, response_code: int | None, at: str,
               final: bool = False) -> None:
        """Print one attempt line (section 5) on stdout."""
        line: dict[str, Any] = {"attempt": attempt, "status": status,
                                "response_code": response_code, "at": at}
        if final:
            line["final"] = True
        print(json.dumps(line), flush=True)


class SenderCommand:
    """The sender under test, as an argument vector."""

    def __init__(self, command: str, *, python: str = sys.executable) -> None:
        command = command.strip()
        if not command:
            raise CommandError("the sender command is empty")
        self.command = command
        if command == REFERENCE_WORD:
            self.argv = [python, "-m", "punctual_conformance.reference_sender", "send",
                         "--allow-loopback"]
        elif command.startswith(PYTHON_PREFIX):
            _split_python_spec(command)  # fail early on a bad spec
            self.argv = [python, "-m", "punctual_conformance.sender_command", command]
        else:
            try:
                self.argv = shlex.split(command)
            except ValueError as error:
                raise CommandError(f"cannot split the sender command: {error}") from None
            if not self.argv:
                raise CommandError("the sender command is empty")

    @property
    def is_reference(self) -> bool:
        return self.command == REFERENCE_WORD

    def run(
        self,
        *,
        endpoint_url: str,
        event_file: Path,
        secret: str,
        ca_bundle: Path,
        time_scale: float,
        bound_s: float,
        extra_env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        on_report: Callable[[AttemptReport], None] | None = None,
        stop_when: Callable[[], bool] | None = None,
    ) -> SenderRun:
        """Run the sender once; return within about ``bound_s`` (+ a second to reap it)."""
        env = dict(os.environ)
        env.update(extra_env or {})
        env.update({
            ENDPOINT_ENV: endpoint_url,
            SECRET_ENV: secret,
            EVENT_FILE_ENV: str(event_file),
            CA_BUNDLE_ENV: str(ca_bundle),
            "SSL_CERT_FILE": str(ca_bundle),
            TIME_SCALE_ENV: repr(time_scale),
            "PYTHONUNBUFFERED": "1",
            RUN_MARKER_ENV: secrets.token_hex(16),
        })
        redact = _redactor(secret)
        run = SenderRun(display=self.command, started=time.monotonic())
        try:
            process = subprocess.Popen(
                self.argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                text=True, encoding="utf-8", errors="replace",
            )
        except OSError as error:
            run.ended = time.monotonic()
            run.launch_error = f"{type(error).__name__}: {error.strerror or error}"
            return run
        readers = [
            threading.Thread(target=_read_stdout,
                             args=(process.stdout, run, on_report, redact),
                             daemon=True, name="punctual-sender-stdout"),
            threading.Thread(target=_read_stderr, args=(process.stderr, run, redact),
                             daemon=True, name="punctual-sender-stderr"),
        ]
        for reader in readers:
            reader.start()
        deadline = run.started + bound_s
        try:
            while True:
                try:
                    run.exit_code = process.wait(timeout=0.02)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() >= deadline:
                    run.outlived_bound = True
                    break
                if stop_when is not None and stop_when():
                    run.stopped_by_suite = True
                    break
        finally:
            run.ended = time.monotonic()
            _kill_group(process)
            run.strays_killed = _kill_strays(env[RUN_MARKER_ENV])
            for reader in readers:
                reader.join(timeout=5)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        return run


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the sender's process group (it has its own session), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _same(text: str) -> str:
    return text


def _redactor(secret: str) -> Callable[[str], str]:
    """:meth:`Secret.redact`, skipped for a text that cannot hold the secret in any of its
    forms: every form (plain, JSON-, HTML- or percent-escaped) keeps the secret's ASCII letters
    and digits, so a text without its longest run of them holds none (a garbage flood is
    then not slowed by the redaction of each line)."""
    if not secret:
        return _same
    redact = Secret(secret).redact
    probe = max(re.findall(r"[A-Za-z0-9]+", secret), key=len, default="")
    if not probe:
        return redact
    return lambda text: redact(text) if probe in text else text


def _kill_strays(token: str) -> int:
    """SIGKILL every process whose environment carries the run's token (descendants that
    left the sender's process group); how many. A no-op without ``/proc``."""
    needle = f"{RUN_MARKER_ENV}={token}".encode()
    killed: set[int] = set()
    for _ in range(3):  # a stray may have forked while the first pass ran
        found = False
        with contextlib.suppress(OSError):
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or int(entry.name) == os.getpid():
                    continue
                try:
                    with open(f"/proc/{entry.name}/environ", "rb") as environ:
                        carries = needle in environ.read()
                except OSError:
                    continue  # gone, a kernel thread, or another user's
                if carries:
                    with contextlib.suppress(OSError):
                        os.kill(int(entry.name), signal.SIGKILL)
                        killed.add(int(entry.name))
                        found = True
        if not found:
            break
    return len(killed)


def _read_stdout(stream: IO[str] | None, run: SenderRun,
                 on_report: Callable[[AttemptReport], None] | None,
                 redact: Callable[[str], str] = _same) -> None:
    """Parse every line (however many); keep at most the caps (see the module docstring)."""
    if stream is None:
        return
    with contextlib.suppress(OSError, ValueError):
        while True:
            line = stream.readline(LINE_CAP)
            if not line:
                return
            if len(line) == LINE_CAP and not line.endswith("\n"):
                # An overlong line: keep its start as garbage and skip the rest of it.
                run.stdout_truncated = True
                _keep_garbage(run, redact(line))
                while line and not line.endswith("\n"):
                    line = stream.readline(LINE_CAP)
                continue
            text = redact(line.strip())
            if not text:
                continue
            parsed = parse_line(text, time.monotonic(), redact)
            if isinstance(parsed, AttemptReport):
                if len(run.reports) >= KEPT_REPORTS:
                    run.stdout_truncated = True
                    continue
                run.reports.append(parsed)
                if on_report is not None:
                    on_report(parsed)
            elif isinstance(parsed, Declaration):
                run.declaration = parsed
            elif parsed is None:
                _keep_garbage(run, text)


def _keep_garbage(run: SenderRun, text: str) -> None:
    if len(run.garbage) < KEPT_GARBAGE:
        run.garbage.append(text[:200])
    else:
        run.stdout_truncated = True


def _read_stderr(stream: IO[str] | None, run: SenderRun,
                 redact: Callable[[str], str] = _same) -> None:
    """Keep the first :data:`STDERR_CAP` characters, redacted; drain the rest.

    A little more is read than kept, and redacted before the cut, so a secret straddling
    the cut is redacted whole; when the stream went on, that overhang is dropped, since it
    may end in the start of a secret."""
    if stream is None:
        return
    overhang = 4096
    kept: list[str] = []
    size = 0
    ended = False
    with contextlib.suppress(OSError, ValueError):
        while True:
            chunk = stream.read(4096)
            if not chunk:
                ended = True
                break
            if size < STDERR_CAP + overhang:
                kept.append(chunk[: STDERR_CAP + overhang - size])
                size += len(kept[-1])
    text = redact("".join(kept))
    if not ended or size >= STDERR_CAP + overhang:
        text = text[: max(0, len(text) - overhang)]
    run.stderr = text[:STDERR_CAP]


# -- the python: form ---------------------------------------------------------------------


def _split_python_spec(spec: str) -> tuple[str, str]:
    rest = spec[len(PYTHON_PREFIX):]
    module, _, function = rest.partition(":")
    if not module or not function or not all(
        part.isidentifier() for part in [*module.split("."), function]
    ):
        raise CommandError(
            f"expected python:package.module:function, got {spec!r}")
    return module, function


def main(argv: list[str] | None = None) -> int:
    """Child-process entry of ``python:pkg.module:function``: call ``function(job)``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m punctual_conformance.sender_command python:pkg.module:function",
              file=sys.stderr)
        return 2
    try:
        module_name, function_name = _split_python_spec(args[0])
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    function = getattr(importlib.import_module(module_name), function_name)
    job = SenderJob.from_environment()
    result = function(job)
    if not isinstance(result, int) or isinstance(result, bool):
        print(f"error: {function_name}() returned {type(result).__name__}, not an exit code",
              file=sys.stderr)
        return 3
    return result


if __name__ == "__main__":
    sys.exit(main())
