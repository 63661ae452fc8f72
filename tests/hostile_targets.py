"""Hostile endpoints on 127.0.0.1 for test_hostile_targets.py, and the runner of one case.

The targets build on :class:`bad_targets.RawTarget` (one thread per connection, all joined by
``stop()``): a status line and headers trickled a byte per second, a 100 MB body streamed from
a generator, connection resets (RST through ``SO_LINGER`` 0), garbage instead of HTTP, a
connection closed without an answer. Certificates that are expired or for another host, and a
redirect to the link-local metadata address, are set up here too.

Each case runs in a fresh Python process (``python -m hostile_targets CASE WORKDIR``) that
starts the case's targets, runs the suite against them as a user would (``run_suite``), stops
the targets, and writes ``result.json``: the suite's exit status, output and reports, the run's
duration, the suite process's peak RSS (``RUSAGE_CHILDREN`` of that fresh process, whose only
child is the suite), threads and sockets left over, and what the targets saw.

Network guard: this module is also loaded into the suite's process (``-p hostile_targets``), and
there, as in the case process, an audit hook refuses (and logs) every TCP/UDP connection to an
address that is not loopback. Nothing in these tests can reach 169.254.169.254 or any other
host, even if the suite were broken and followed a redirect.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import random
import resource
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import trustme

import suite_runner
from bad_targets import AnswersEverything, RawTarget, RedirectsElsewhere
from punctual_conformance.tls import EphemeralCA

__all__ = [
    "GUARD_ENV",
    "HUGE_BODY_BYTES",
    "METADATA_URL",
    "SETUPS",
    "SUITE_KILL_S",
    "TESTS_DIR",
    "CaseResult",
    "ClosesImmediately",
    "HugeBody",
    "ResetsConnection",
    "SpeaksGarbage",
    "TricklesHead",
    "install_network_guard",
    "run_case",
]

TESTS_DIR = Path(__file__).resolve().parent
GUARD_ENV = "HOSTILE_TARGETS_GUARD_LOG"
SECRET = "whsec_hostile-targets-Qz7"
MIB = 1024 * 1024
HUGE_BODY_BYTES = 100 * 1000 * 1000  # "100 MB"
HUGE_HEADER_BYTES = 10 * MIB
METADATA_URL = "http://169.254.169.254/latest/meta-data/"
ACK_TIMEOUT = "1"  # the suite then waits 1 s + 1 s grace per request
SUITE_KILL_S = 150.0  # run_suite's own timeout in the case process (the test's bound is lower)
_SEND_CHUNK = 16 * 1024
_BLOCK = 64 * 1024


# -- the network guard ----------------------------------------------------------------------


def install_network_guard(log_path: str) -> None:
    """Refuse every connection of this process to an address that is not loopback, and log
    it (an audit hook: it cannot be removed, and it sees every ``socket.connect``)."""

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in ("socket.connect", "socket.sendto"):
            return
        sock, address = args[0], args[-1]
        if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
            return
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host.split("%")[0]).is_loopback:
                return
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{event} {address!r}\n")
        raise PermissionError(f"hostile-targets guard: no traffic to {host} (loopback only)")

    sys.addaudithook(hook)


def pytest_configure(config: object) -> None:
    """Loaded into the suite's process with ``-p hostile_targets``: install the guard."""
    log_path = os.environ.get(GUARD_ENV)
    if log_path:
        install_network_guard(log_path)


# -- targets --------------------------------------------------------------------------------


class HostileTarget(RawTarget):
    """A :class:`RawTarget` that counts the bytes it sent on each connection."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.sent_per_connection: list[int] = []
        self._counts_lock = threading.Lock()

    def serve(self, sock: socket.socket) -> None:
        sent = [0]
        try:
            self.answer(sock, sent)
        finally:
            with self._counts_lock:
                self.sent_per_connection.append(sent[0])

    def answer(self, sock: socket.socket, sent: list[int]) -> None:
        raise NotImplementedError

    def send(self, sock: socket.socket, data: bytes, sent: list[int]) -> None:
        """Send all of ``data``, waiting for a slow reader as long as the target runs (the
        connection's 0.2 s timeout only keeps the thread responsive to ``stop()``)."""
        view = memoryview(data)
        while view:
            if self.stopping.is_set():
                raise ConnectionAbortedError("the target is stopping")
            try:
                count = sock.send(view[:_SEND_CHUNK])
            except TimeoutError:
                continue  # TLS: retried with the same bytes, as OpenSSL requires
            view = view[count:]
            sent[0] += count

    def stats(self) -> dict[str, Any]:
        with self._counts_lock:
            per_connection = list(self.sent_per_connection)
        return {"connections": self.connections_accepted, "requests": len(self.requests),
                "max_sent_per_connection": max(per_connection, default=0),
                "total_sent": sum(per_connection)}


class TricklesHead(HostileTarget):
    """Reads a request, then sends the status line and headers one byte per second. The
    whole answer would take ``len(HEAD)`` seconds; every byte restarts a per-read timeout."""

    HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + b"X-Trickle: " + b"." * 240 + b"\r\nContent-Length: 2\r\n\r\n{}")
    interval_s = 1.0

    def answer(self, sock: socket.socket, sent: list[int]) -> None:
        for _ in self.requests_of(sock):
            for byte in self.HEAD:
                self.send(sock, bytes([byte]), sent)
                if self.wait(self.interval_s):
                    return
            return


class HugeBody(HostileTarget):
    """Answers every request ``status`` with a 100 MB body, streamed from a generator (the
    target never holds more than one 64 KiB block)."""

    def __init__(self, status: str = "200 OK", prefix: bytes = b'{"received": true, "pad": "',
                 size: int = HUGE_BODY_BYTES, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.status, self.prefix, self.size = status, prefix, size

    def body(self) -> Iterator[bytes]:
        yield self.prefix
        left = self.size - len(self.prefix)
        block = b"x" * _BLOCK
        while left > 0:
            yield block[:left]
            left -= _BLOCK

    def answer(self, sock: socket.socket, sent: list[int]) -> None:
        for _ in self.requests_of(sock):
            self.send(sock, (f"HTTP/1.1 {self.status}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {self.size}\r\n\r\n").encode("ascii"), sent)
            for chunk in self.body():
                self.send(sock, chunk, sent)


def reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class ResetsConnection(HostileTarget):
    """Reads a request and resets the connection: at once (``mid_response=False``), or after
    the status line, headers and a few bytes of the body."""

    PARTIAL = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
               b"\r\n{\"rece")

    def __init__(self, *, mid_response: bool, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        self.mid_response = mid_response
        self.resets = 0

    def answer(self, sock: socket.socket, sent: list[int]) -> None:
        for _ in self.requests_of(sock):
            if self.mid_response:
                self.send(sock, self.PARTIAL, sent)
                if self.wait(0.05):  # the client has read the head by then
                    return
            reset(sock)
            self.resets += 1
            return


class SpeaksGarbage(HostileTarget):
    """Reads a request and answers with something that is not HTTP:

    - ``random``: endless seeded random bytes;
    - ``endless-line``: ``HTTP/1.1 200 OK`` and then an endless line, never a CR or LF;
    - ``huge-header``: a valid status line, then a 10 MB header (and, if anyone still reads, a
      proper end of headers and body);
    - ``long-status-line``: a 90 KiB line of random bytes (no CR or LF), then an empty line:
      short enough for an HTTP parser to reject it by quoting it whole.
    """

    KINDS = ("random", "endless-line", "huge-header", "long-status-line")

    def __init__(self, kind: str, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=tls)
        if kind not in self.KINDS:
            raise ValueError(kind)
        self.kind = kind

    def garbage(self) -> Iterator[bytes]:
        if self.kind == "random":
            rng = random.Random(20240917)
            while True:
                yield rng.randbytes(_BLOCK)
        elif self.kind == "endless-line":
            yield b"HTTP/1.1 200 OK"
            block = b"A" * _BLOCK
            while True:
                yield block
        elif self.kind == "long-status-line":
            line = random.Random(20240918).randbytes(90 * 1024)
            yield line.replace(b"\r", b"?").replace(b"\n", b"?") + b"\r\n\r\n"
        else:
            yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: "
            block = b"a" * _BLOCK
            for _ in range(HUGE_HEADER_BYTES // _BLOCK):
                yield block
            yield b"\r\nContent-Length: 2\r\n\r\n{}"

    def answer(self, sock: socket.socket, sent: list[int]) -> None:
        for _ in self.requests_of(sock):
            for chunk in self.garbage():  # until the client hangs up (or stop())
                self.send(sock, chunk, sent)
            return


class ClosesImmediately(HostileTarget):
    """Accepts and closes without answering: before any TLS (``at="accept"``; clients are told
    to speak TLS to it), or after reading the request (``at="request"``, a FIN, no answer)."""

    def __init__(self, at: str, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls=None if at == "accept" else tls)
        if at not in ("accept", "request"):
            raise ValueError(at)
        self.at = at

    def url(self, path: str = "/webhook") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def answer(self, sock: socket.socket, sent: list[int]) -> None:
        if self.at == "accept":
            sock.close()
            return
        for _ in self.requests_of(sock):
            sock.close()
            return


# -- certificates ---------------------------------------------------------------------------


def _server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    leaf.configure_cert(context)
    return context


def expired_certificate(ca: trustme.CA) -> ssl.SSLContext:
    """127.0.0.1's certificate from a trusted CA, valid from 30 days ago until yesterday."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return _server_context(ca.issue_cert("127.0.0.1", "localhost",
                                         not_before=now - datetime.timedelta(days=30),
                                         not_after=now - datetime.timedelta(days=1)))


def wrong_host_certificate(ca: trustme.CA) -> ssl.SSLContext:
    """A valid certificate from a trusted CA, for another name than the URL's host."""
    return _server_context(ca.issue_cert("receiver.example.com"))


# -- cases ----------------------------------------------------------------------------------


@dataclass
class Setup:
    url: str
    args: list[str] = field(default_factory=list)
    targets: dict[str, HostileTarget | RawTarget] = field(default_factory=dict)


def _with_ca(bundle: Path) -> list[str]:
    return ["--punctual-ca-bundle", str(bundle)]


def _single(target_factory: Callable[[ssl.SSLContext], RawTarget]) -> Callable[
        [contextlib.ExitStack, Path], Setup]:
    def setup(stack: contextlib.ExitStack, workdir: Path) -> Setup:
        ca = EphemeralCA()
        bundle = ca.write_ca_bundle(workdir)
        target = stack.enter_context(target_factory(ca.server_context()))
        return Setup(target.url(), _with_ca(bundle), {"target": target})
    return setup


def _plain(target_factory: Callable[[None], RawTarget]) -> Callable[
        [contextlib.ExitStack, Path], Setup]:
    """Over plain http:// (a TCP reset is only visible as such without TLS in between)."""
    def setup(stack: contextlib.ExitStack, workdir: Path) -> Setup:
        target = stack.enter_context(target_factory(None))
        return Setup(target.url(), [], {"target": target})
    return setup


def _hostile_observer(observer_factory: Callable[[ssl.SSLContext], RawTarget]) -> Callable[
        [contextlib.ExitStack, Path], Setup]:
    """A gullible target that answers 200 to everything, and a hostile observer."""
    def setup(stack: contextlib.ExitStack, workdir: Path) -> Setup:
        ca = EphemeralCA()
        bundle = ca.write_ca_bundle(workdir)
        target = stack.enter_context(AnswersEverything(tls=ca.server_context()))
        observer = stack.enter_context(observer_factory(ca.server_context()))
        return Setup(target.url(), [*_with_ca(bundle), "--punctual-observer",
                                    observer.url("/processed")],
                     {"target": target, "observer": observer})
    return setup


def _with_certificate(make: Callable[[trustme.CA], ssl.SSLContext]) -> Callable[
        [contextlib.ExitStack, Path], Setup]:
    def setup(stack: contextlib.ExitStack, workdir: Path) -> Setup:
        ca = trustme.CA()
        bundle = workdir / "trusted-ca.pem"
        ca.cert_pem.write_to_path(str(bundle))  # the suite trusts this CA ...
        target = stack.enter_context(AnswersEverything(tls=make(ca)))  # ... and its cert is bad
        return Setup(target.url(), _with_ca(bundle), {"target": target})
    return setup


SETUPS: dict[str, Callable[[contextlib.ExitStack, Path], Setup]] = {
    # A well-behaved (if gullible) endpoint: the baseline of the memory comparison.
    "control": _single(lambda tls: AnswersEverything(tls=tls)),
    "header-trickle": _single(lambda tls: TricklesHead(tls=tls)),
    "huge-body": _single(lambda tls: HugeBody(tls=tls)),
    "huge-observer-answer": _hostile_observer(
        lambda tls: HugeBody(prefix=b'{"processed": 0, "pad": "', tls=tls)),
    "trickling-observer": _hostile_observer(lambda tls: TricklesHead(tls=tls)),
    "reset-after-request": _single(lambda tls: ResetsConnection(mid_response=False, tls=tls)),
    "reset-mid-response": _single(lambda tls: ResetsConnection(mid_response=True, tls=tls)),
    "reset-after-request-plain": _plain(
        lambda tls: ResetsConnection(mid_response=False, tls=tls)),
    "reset-mid-response-plain": _plain(lambda tls: ResetsConnection(mid_response=True, tls=tls)),
    "expired-certificate": _with_certificate(expired_certificate),
    "wrong-host-certificate": _with_certificate(wrong_host_certificate),
    "redirect-to-metadata": _single(lambda tls: RedirectsElsewhere(METADATA_URL, tls=tls)),
    "garbage-random": _single(lambda tls: SpeaksGarbage("random", tls=tls)),
    "garbage-endless-line": _single(lambda tls: SpeaksGarbage("endless-line", tls=tls)),
    "garbage-huge-header": _single(lambda tls: SpeaksGarbage("huge-header", tls=tls)),
    "garbage-long-status-line": _single(lambda tls: SpeaksGarbage("long-status-line", tls=tls)),
    "closes-at-accept": _single(lambda tls: ClosesImmediately("accept", tls=tls)),
    "closes-after-request": _single(lambda tls: ClosesImmediately("request", tls=tls)),
}


@dataclass
class CaseResult:
    name: str
    url: str
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any]
    html: str
    elapsed_s: float
    peak_rss_mib: float
    leftover_threads: list[str]
    sockets_before: int
    sockets_after: int
    child_processes: list[int]
    guard_log: list[str]
    targets: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> CaseResult:
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def rows(self) -> dict[str, dict[str, Any]]:
        return {row["id"]: row for row in self.report.get("requirements", [])}

    def exchanges(self) -> list[dict[str, Any]]:
        return [exchange for row in self.report.get("requirements", [])
                for check in row["checks"] for exchange in check["exchanges"]]


def _socket_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def _child_processes() -> list[int]:
    me, children = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{entry}/status").read_text(encoding="utf-8")
            ppid = next(line.split()[1] for line in status.splitlines()
                        if line.startswith("PPid:"))
            if int(ppid) == me:
                children.append(int(entry))
    return children


def run_case(name: str, workdir: Path) -> CaseResult:
    """Run one case in this process (which should be fresh: see the module docstring)."""
    guard_log = workdir / "guard.log"
    install_network_guard(str(guard_log))
    suite_runner.SUITE_TIMEOUT_S = SUITE_KILL_S  # type: ignore[misc]
    sockets_before = _socket_fds()
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
           GUARD_ENV: str(guard_log)}
    with contextlib.ExitStack() as stack:
        setup = SETUPS[name](stack, workdir)
        started = time.monotonic()
        run = suite_runner.run_suite(
            workdir / "run", "--punctual-target", setup.url, *setup.args,
            "--punctual-ack-timeout", ACK_TIMEOUT, "--punctual-examples", "2",
            "-p", "hostile_targets", secret=SECRET, env=env, html=True)
        elapsed = time.monotonic() - started
    # The ExitStack stopped every target.
    html = workdir / "run" / "report.html"
    return CaseResult(
        name=name, url=setup.url, returncode=run.returncode, stdout=run.stdout,
        stderr=run.stderr, report=run.report,
        html=html.read_text(encoding="utf-8") if html.exists() else "",
        elapsed_s=elapsed,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        leftover_threads=[thread.name for target in setup.targets.values()
                          for thread in target.leftover_threads],
        sockets_before=sockets_before, sockets_after=_socket_fds(),
        child_processes=_child_processes(),
        guard_log=guard_log.read_text(encoding="utf-8").splitlines()
        if guard_log.exists() else [],
        targets={key: {**(target.stats() if isinstance(target, HostileTarget) else
                          {"connections": target.connections_accepted,
                           "requests": len(target.requests)}),
                       "paths": sorted({r.path for r in target.requests})}
                 for key, target in setup.targets.items()},
    )


def main(argv: list[str]) -> int:
    name, workdir = argv[0], Path(argv[1])
    result = run_case(name, workdir)
    (workdir / "result.json").write_text(json.dumps(asdict(result)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
