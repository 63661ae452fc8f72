"""Hostile sender commands for the suite's sender mode (profile section 5 environment).

Run as ``python hostile.py MODE --hostile-marker=TOKEN``; the marker is in the argv of this
process and of every process it starts (and in their environment as ``HOSTILE_MARKER``), so a
test can find anything left running. Modes:

* ``hang``: delivers nothing, sleeps.
* ``hang-ignore-term``: the same, ignoring SIGTERM, SIGINT and SIGHUP (only SIGKILL ends it).
* ``crash``: a Python traceback on stderr, exit 3 at once.
* ``killed``: killed by SIGKILL (its own) at once.
* ``garbage``: binary junk, invalid UTF-8, a line of many MB, JSON of the wrong shape, a
  flood of short garbage lines on stdout (and junk on stderr), then delivers correctly as the
  reference sender does (with its attempt lines).
* ``wrong-shape``: as ``garbage``, but also attempt lines of the wrong shape (strings for
  numbers, unknown statuses, a "delivered" without a code) before delivering correctly.
* ``flood``: 10,000 signed HTTPS POSTs to the endpoint (127.0.0.1 only) from 8 threads, as
  fast as it can, one attempt line each; exit 0 if any got a 2xx, else 1.
* ``grandchild``: starts a sleeping child in its process group, then delivers correctly and
  exits, leaving the child behind.
* ``grandchild-setsid``: the same, the child in a session of its own (it escapes the
  process group).
* ``echo-secret``: echoes ``PUNCTUAL_WEBHOOK_SECRET`` on stdout (plain, inside garbage lines,
  in an attempt line's fields, JSON-escaped) and stderr, and signs with the wrong key.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FLOOD_REQUESTS = 10_000
FLOOD_THREADS = 8
SELF_DEADLINE_S = 300  # a hostile process never outlives this, even if the suite fails to end it
MODES = ("hang", "hang-ignore-term", "crash", "killed", "garbage", "wrong-shape", "flood",
         "grandchild", "grandchild-setsid", "echo-secret")


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def marker_argument() -> str:
    return next((a for a in sys.argv if a.startswith("--hostile-marker=")), "--hostile-marker=")


def deliver_like_the_reference(sender_class: Any = None) -> int:
    from punctual_conformance.reference_sender import ReferenceSender, deliver_job
    from punctual_conformance.sender_command import SenderJob

    return deliver_job(SenderJob.from_environment(), sender_class or ReferenceSender)


def sleep_forever() -> int:
    time.sleep(SELF_DEADLINE_S)
    return 0


def crash() -> int:
    try:
        raise RuntimeError("the hostile sender crashed on purpose")
    except RuntimeError:
        traceback.print_exc()
    return 3


def garbage(wrong_shape: bool) -> int:
    out = sys.stdout.buffer
    out.write(b"\x00\xff\xfe\x80\x81binary\x1b[31mjunk\x07\r\x9b\n")
    out.write(b"invalid utf-8: \xc3\x28 \xa0\xa1 \xed\xa0\x80 \xf4\x90\x80\x80\n")
    out.write(b"\x00" * 5000 + b"\n")
    chunk = b"A" * (1024 * 1024)
    for _ in range(24):  # one line of 24 MiB
        out.write(chunk)
    out.write(b"\n")
    for value in ([1, 2, 3], "a string", 42, None, {"hello": "world"}, {"schedule": "fast"},
                  {"schedule": {"factor": "NaN", "jitter": [1]}},
                  {"attempts": 1, "state": "delivered"}):
        out.write(json.dumps(value).encode() + b"\n")
    out.write(b"[" * 3000 + b"]" * 3000 + b"\n")  # deeper than the JSON parser recurses
    out.write(b'{"x": ' + b"[" * 950 + b'"s"' + b"]" * 950 + b"}\n")  # almost as deep
    out.write(b'{"attempt": 1, "status": "failed", "response_code": 500\n')  # cut short
    for n in range(40_000):  # ~700 kB of short lines: more than the suite keeps
        out.write(b"garbage line %d\n" % n)
    if wrong_shape:
        shapes: list[dict[str, Any]] = [
            {"attempt": "one", "status": 5, "response_code": "500", "at": 7},
            {"attempt": True, "status": "exploded", "response_code": 200.5},
            {"attempt": 2, "status": "delivered", "response_code": None},
            {"attempt": [1], "status": None, "final": "yes"},
        ]
        for shape in shapes:
            out.write(json.dumps(shape).encode() + b"\n")
    out.flush()
    sys.stderr.buffer.write(b"\xff\xfe stderr junk \x00" * 200_000 + b"\n")
    sys.stderr.flush()
    return deliver_like_the_reference()


def flood() -> int:
    url = urlsplit(os.environ["PUNCTUAL_ENDPOINT_URL"])
    if url.hostname != "127.0.0.1":
        print(f"flood: refusing a non-loopback endpoint {url.hostname}", file=sys.stderr)
        return 2
    from punctual_conformance.signing import sign

    secret = os.environ["PUNCTUAL_WEBHOOK_SECRET"]
    body = Path(os.environ["PUNCTUAL_EVENT_FILE"]).read_bytes()
    headers = {"Content-Type": "application/json", "Punctual-Signature": sign(secret, body)}
    target = url.path + (f"?{url.query}" if url.query else "")
    context = ssl.create_default_context(cafile=os.environ["PUNCTUAL_CA_BUNDLE"])
    lock = threading.Lock()
    state = {"next": 0, "acknowledged": 0}

    def worker() -> None:
        while True:
            with lock:
                if state["next"] >= FLOOD_REQUESTS:
                    return
                state["next"] += 1
                number = state["next"]
            started = now()
            code: int | None = None
            try:
                connection: http.client.HTTPConnection
                if url.scheme == "https":
                    connection = http.client.HTTPSConnection(
                        "127.0.0.1", url.port or 443, context=context, timeout=2)
                else:
                    connection = http.client.HTTPConnection("127.0.0.1", url.port or 80,
                                                            timeout=2)
                connection.request("POST", target, body=body, headers=headers)
                code = connection.getresponse().status
                connection.close()
            except (OSError, http.client.HTTPException):
                pass
            delivered = code is not None and 200 <= code < 300
            with lock:
                state["acknowledged"] += delivered
                print(json.dumps({"attempt": number,
                                  "status": "delivered" if delivered else "failed",
                                  "response_code": code, "at": started}), flush=True)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(FLOOD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0 if state["acknowledged"] else 1


def grandchild(own_session: bool) -> int:
    subprocess.Popen(
        [sys.executable, "-c", f"import time; time.sleep({SELF_DEADLINE_S})",
         marker_argument()],
        start_new_session=own_session, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return deliver_like_the_reference()


def echo_secret() -> int:
    from punctual_conformance.reference_sender import ReferenceSender

    secret = os.environ["PUNCTUAL_WEBHOOK_SECRET"]
    print(f"my secret is {secret}")
    print("x" * 190 + secret + "y" * 50)  # straddles the suite's 200-character garbage cut
    print(json.dumps({"attempt": 1, "status": secret, "response_code": None, "at": secret}))
    print(json.dumps({"attempt": 1, "status": secret, "response_code": None,
                      "at": now(), "note": secret}, ensure_ascii=False))
    print(json.dumps({"debug": {"secret": secret, "nested": [secret]}}))
    sys.stderr.write(f"stderr: the secret is {secret}\n")
    sys.stderr.write("e" * 16_370 + secret + "\n")  # straddles the suite's 16 KiB stderr cap
    sys.stderr.write("f" * 2000 + json.dumps(secret) + "\n")
    sys.stderr.flush()

    class WrongKey(ReferenceSender):
        def sign(self, body: bytes) -> str:
            from punctual_conformance.signing import sign

            return sign(secret + "-wrong", body)

    return deliver_like_the_reference(WrongKey)


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    os.environ["HOSTILE_MARKER"] = marker_argument()
    threading.Timer(SELF_DEADLINE_S, lambda: os._exit(99)).start()  # the last resort
    if mode == "hang":
        return sleep_forever()
    if mode == "hang-ignore-term":
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, signal.SIG_IGN)
        return sleep_forever()
    if mode == "crash":
        return crash()
    if mode == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode in ("garbage", "wrong-shape"):
        return garbage(wrong_shape=mode == "wrong-shape")
    if mode == "flood":
        return flood()
    if mode in ("grandchild", "grandchild-setsid"):
        return grandchild(own_session=mode == "grandchild-setsid")
    if mode == "echo-secret":
        return echo_secret()
    print(f"usage: hostile.py {{{','.join(MODES)}}} --hostile-marker=TOKEN", file=sys.stderr)
    return 2


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # not sys.exit: the last-resort timer thread must not keep it alive
