"""Benchmarks: figures printed side by side in one run (``nox -s bench``).

(a) a full receiver run against the reference receiver, against the floor: the same number
    of signed requests sent by a plain httpx loop to the same kind of receiver;
(b) ``verify()`` against a bare ``hmac.new(...).hexdigest()`` + ``hmac.compare_digest``, and
    against the ``standardwebhooks`` library's verification, on 1 KB and 100 KB bodies;
(c) the reference sender's deliveries per second to a local receiver, against an httpx loop;
(d) peak memory (max RSS) of a receiver run.

Nothing here asserts a speed: it prints what it measured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import httpx

from punctual_conformance.events import new_event
from punctual_conformance.reference_receiver import ReferenceReceiver
from punctual_conformance.signing import SIGNATURE_HEADER, sign, verify

SECRET = "bench-secret"  # noqa: S105 (a throw-away secret for loopback)
Row = tuple[str, str, str]


def _suite_run(workdir: Path) -> tuple[float, dict[str, object]]:
    report = workdir / "report.json"
    env = {**os.environ, "PUNCTUAL_WEBHOOK_SECRET": SECRET}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--punctual-target",
         "reference", "--punctual-report-json", str(report)],
        cwd=workdir, env=env, check=True, capture_output=True, timeout=600,
    )
    return time.perf_counter() - started, json.loads(report.read_text())


def _httpx_floor(requests: int) -> float:
    with ReferenceReceiver(SECRET) as receiver:
        assert receiver.ca_bundle is not None
        with httpx.Client(verify=str(receiver.ca_bundle)) as client:
            started = time.perf_counter()
            for _ in range(requests):
                event = new_event("booking.created")
                client.post(receiver.url, content=event.body, headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign(SECRET, event.body)})
            return time.perf_counter() - started


def bench_receiver_run() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        wall, report = _suite_run(Path(tmp))
    requirements = report["requirements"]
    assert isinstance(requirements, list)
    checks = [c for row in requirements for c in row["checks"]]
    requests = sum(len(c["exchanges"]) for c in checks)
    in_checks = sum(c["duration_s"] for c in checks)
    # RCV-ACK-06 spends most of its time drawing events with hypothesis, not on the wire.
    wire = [c for c in checks if "RCV-ACK-06" not in c["nodeid"]]
    wire_requests = sum(len(c["exchanges"]) for c in wire)
    wire_s = sum(c["duration_s"] for c in wire)
    floor = _httpx_floor(requests)
    wire_floor = floor * wire_requests / requests
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return [
        ("(a) receiver run, wall time (process start to exit)", f"{wall:.2f} s", ""),
        ("(a) requests sent by the suite", f"{requests}", f"{requests / wall:.0f} req/s overall"),
        ("(a) time inside the checks", f"{in_checks:.2f} s",
         f"{requests / in_checks:.0f} req/s; {in_checks / floor:.1f}x the floor"),
        ("(a) floor: plain httpx loop, same number of signed requests", f"{floor:.2f} s",
         f"{requests / floor:.0f} req/s"),
        (f"(a) checks without generation (all but RCV-ACK-06), {wire_requests} requests",
         f"{wire_s:.2f} s", f"{wire_s / wire_floor:.1f}x the floor for as many requests"),
        ("(d) peak memory (max RSS) of the receiver run", f"{peak_mib:.0f} MiB", ""),
    ]


def _per_call_us(function: Callable[[], object], number: int) -> float:
    timer = timeit.Timer(function)
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def bench_verify() -> list[Row]:
    rows: list[Row] = []
    try:
        from standardwebhooks import Webhook
    except ImportError:  # pragma: no cover - the bench session installs it
        Webhook = None
    for size in (1024, 100 * 1024):
        body = os.urandom(size)
        header = sign(SECRET, body)
        key = SECRET.encode()
        number = 20000 if size == 1024 else 2000

        def bare(body: bytes = body, header: str = header, key: bytes = key) -> bool:
            return hmac.compare_digest(hmac.new(key, body, hashlib.sha256).hexdigest(), header)

        ours = _per_call_us(lambda body=body, header=header: verify(SECRET, body, header), number)
        floor = _per_call_us(bare, number)
        label = f"{size // 1024} KB"
        rows.append((f"(b) verify() on {label}", f"{ours:.2f} µs",
                     f"{(ours / floor - 1) * 100:+.1f}% vs bare HMAC"))
        rows.append((f"(b) bare hmac + compare_digest on {label}", f"{floor:.2f} µs", ""))
        if Webhook is not None:
            webhook = Webhook(base64.b64encode(key).decode())
            now = datetime.now(timezone.utc)
            headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": webhook.sign("msg_1", now, body.hex())}
            data = body.hex()  # standardwebhooks signs text; hex keeps the bytes comparable
            theirs = _per_call_us(
                lambda webhook=webhook, data=data, headers=headers: webhook.verify(
                    data, headers, json_parse=False), number // 2)
            rows.append((f"(b) standardwebhooks verify on {label} (hex text, 2x bytes)",
                         f"{theirs:.2f} µs", ""))
    return rows


def bench_sender() -> list[Row]:
    try:
        from benchmarks_sender import bench_sender_rows  # type: ignore[import-not-found]
    except ImportError:
        return [("(c) reference sender deliveries/s", "n/a", "reference sender bench missing")]
    rows: list[Row] = bench_sender_rows(SECRET)
    return rows


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    rows = bench_receiver_run() + bench_verify() + bench_sender()
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'figure':>12}  note")
    print("-" * (width + 40))
    for name, figure, note in rows:
        print(f"{name:<{width}}  {figure:>12}  {note}")
    _ = statistics  # figures are minimums over repeats; the stdlib does the rest
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
