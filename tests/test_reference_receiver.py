"""The reference receiver, its dedupe store and its command line, over real HTTPS on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from punctual_conformance.receiver_store import ReceiverStore
from punctual_conformance.reference_receiver import SECRET_ENV, ReferenceReceiver
from punctual_conformance.signing import SIGNATURE_HEADER, sign
from punctual_conformance.tls import EphemeralCA

SECRET = "whsec_reference-receiver-test-Qx7"
_counter = iter(range(1, 1_000_000))


def envelope(event_type: str = "booking.created", event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_rr{next(_counter):06d}",
        "type": event_type,
        "created": "2024-01-15T10:30:00Z",
        "data": {"object": {"id": "booking_123", "title": "Product Demo", "status": "confirmed"}},
    }


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode("utf-8")


def post(
    client: httpx.Client,
    receiver: ReferenceReceiver,
    body: bytes,
    signature: str | None = "sign",
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign(SECRET, body)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return client.post(receiver.url, content=body, headers=headers)


def observed(client: httpx.Client, receiver: ReferenceReceiver, event_id: str) -> int:
    response = client.get(receiver.observer_url, params={"event_id": event_id})
    assert response.status_code == 200
    count = response.json()["processed"]
    assert isinstance(count, int)
    return count


def client_for(receiver: ReferenceReceiver, **kwargs: Any) -> httpx.Client:
    assert receiver.ca_bundle is not None
    ctx = ssl.create_default_context(cafile=str(receiver.ca_bundle))
    return httpx.Client(verify=ctx, timeout=5.0, **kwargs)


@pytest.fixture
def receiver() -> Iterator[ReferenceReceiver]:
    with ReferenceReceiver(SECRET) as running:
        yield running


@pytest.fixture
def client(receiver: ReferenceReceiver) -> Iterator[httpx.Client]:
    with client_for(receiver) as c:
        yield c


# -- deliveries ---------------------------------------------------------------------------


def test_valid_delivery_is_acknowledged_and_processed_once(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    event = envelope()
    response = post(client, receiver, encode(event))
    assert response.status_code == 200
    assert response.json() == {"received": True}
    assert response.headers["content-type"] == "application/json"
    assert receiver.url.startswith("https://127.0.0.1:")
    assert observed(client, receiver, event["id"]) == 1
    assert receiver.processed_count(event["id"]) == 1


@pytest.mark.parametrize(
    "make_signature",
    [
        pytest.param(lambda body: None, id="missing"),
        pytest.param(lambda body: "", id="empty"),
        pytest.param(lambda body: sign("another-secret", body), id="other-secret"),
        pytest.param(lambda body: sign(SECRET, body).upper(), id="uppercase"),
        pytest.param(lambda body: "sha256=" + sign(SECRET, body), id="sha256-prefix"),
        pytest.param(lambda body: sign(SECRET, body) + "00", id="trailing-junk"),
        pytest.param(lambda body: sign(SECRET, body)[:-1], id="one-short"),
        pytest.param(lambda body: "z" * 64, id="non-hex"),
    ],
)
def test_bad_signatures_are_rejected_with_400_and_no_effect(
    receiver: ReferenceReceiver, client: httpx.Client, make_signature: Any
) -> None:
    event = envelope()
    body = encode(event)
    response = post(client, receiver, body, signature=make_signature(body))
    assert response.status_code == 400
    assert "error" in response.json()
    assert observed(client, receiver, event["id"]) == 0


def test_body_altered_after_signing_is_rejected(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    event = envelope()
    signature = sign(SECRET, encode(event))
    altered = encode({**event, "type": "booking.cancelled"})
    response = post(client, receiver, altered, signature=signature)
    assert response.status_code == 400
    assert observed(client, receiver, event["id"]) == 0


def test_signature_is_checked_over_the_raw_bytes(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    body = (
        b'{\n  "type" : "user.created",\r\n "id":"evt_rawbytes1",  '
        b'"created":"2024-01-15T14:00:00Z",'
        b'"data":{"object":{"name":"Jos\\u00e9 \xc3\xa9","url":"a\\/b"}}}\n\n'
    )
    assert post(client, receiver, body).status_code == 200
    assert observed(client, receiver, "evt_rawbytes1") == 1


def test_two_signature_headers_are_rejected(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    body = encode(envelope())
    good = sign(SECRET, body)
    response = client.post(
        receiver.url,
        content=body,
        headers=[(SIGNATURE_HEADER, good), (SIGNATURE_HEADER, good)],
    )
    assert response.status_code == 400


def test_unknown_event_type_is_acknowledged(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    event = envelope("booking.rescheduled")
    event["brand_new_field"] = {"nested": [1, 2, 3]}
    assert post(client, receiver, encode(event)).status_code == 200
    assert observed(client, receiver, event["id"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b'{"type": "booking.created"}', id="no-id"),
        pytest.param(b'{"id": 7, "type": "booking.created"}', id="id-not-a-string"),
        pytest.param(b'{"id": "evt_x"}', id="no-type"),
        pytest.param(b"[" * 100_000, id="deep-nesting"),
    ],
)
def test_signed_but_malformed_envelopes_are_400(
    receiver: ReferenceReceiver, client: httpx.Client, body: bytes
) -> None:
    response = post(client, receiver, body)
    assert response.status_code == 400
    assert "error" in response.json()


def test_get_to_the_webhook_is_not_acknowledged(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    response = client.get(receiver.url)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert client.put(receiver.url, content=b"{}").status_code == 405
    assert client.post(receiver.observer_url, content=b"{}").status_code == 405
    base = receiver.url.removesuffix("/webhook")
    assert client.post(base + "/elsewhere", content=b"{}").status_code == 404
    assert client.get(base + "/").status_code == 404


def test_observer_needs_exactly_one_event_id(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    assert client.get(receiver.observer_url).status_code == 400
    assert client.get(receiver.observer_url + "?event_id=").status_code == 400
    assert client.get(receiver.observer_url + "?event_id=a&event_id=b").status_code == 400
    assert observed(client, receiver, "evt_never_seen") == 0


def test_body_without_length_or_too_large_is_refused(receiver: ReferenceReceiver) -> None:
    assert receiver.ca_bundle is not None
    ctx = ssl.create_default_context(cafile=str(receiver.ca_bundle))

    def raw_request(head: str) -> bytes:
        with (
            socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock,
            ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(head.encode("ascii"))
            chunks = []
            while chunk := tls.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    too_large = raw_request("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
    assert too_large.startswith(b"HTTP/1.1 413 ")
    chunked = raw_request(
        "POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    assert chunked.startswith(b"HTTP/1.1 411 ")
    no_length = raw_request("POST /webhook HTTP/1.1\r\nHost: x\r\n\r\n")
    assert no_length.startswith(b"HTTP/1.1 411 ")
    bad_length = raw_request("POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\n")
    assert bad_length.startswith(b"HTTP/1.1 400 ")


def test_a_large_valid_event_is_acknowledged(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    event = envelope("availability.updated")
    event["data"]["object"] = {
        "user_id": "user_123",
        "date": "2024-01-20",
        "slots": [
            {"start": f"{m // 60:02d}:{m % 60:02d}", "end": "x", "available": True}
            for m in range(1440)
        ],
    }
    body = json.dumps(event, indent=4).encode()
    assert len(body) > 128 * 1024
    assert post(client, receiver, body).status_code == 200


# -- idempotency --------------------------------------------------------------------------


def test_redelivery_is_acknowledged_and_processed_once(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    event = envelope()
    body = encode(event)
    first = post(client, receiver, body)
    again = [post(client, receiver, body) for _ in range(3)]
    assert first.json() == {"received": True}
    assert all(r.status_code == 200 for r in again)
    assert all(r.json() == {"received": True, "duplicate": True} for r in again)
    assert observed(client, receiver, event["id"]) == 1


def test_dedupe_key_is_the_event_id_not_the_object_id(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    created, updated = envelope("booking.created"), envelope("booking.updated")
    assert created["data"]["object"]["id"] == updated["data"]["object"]["id"]
    for event in (created, updated):
        assert post(client, receiver, encode(event)).status_code == 200
        assert observed(client, receiver, event["id"]) == 1


class _CountingReceiver(ReferenceReceiver):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.effects: list[str] = []
        self._effects_lock = threading.Lock()

    def handle_event(self, event: dict[str, Any]) -> None:
        time.sleep(0.005)  # widen the race window
        with self._effects_lock:
            self.effects.append(event["id"])


def test_fifty_concurrent_copies_are_all_acknowledged_and_processed_once() -> None:
    copies = 50
    event = envelope()
    body = encode(event)
    signature = sign(SECRET, body)
    with (
        _CountingReceiver(SECRET) as receiver,
        client_for(receiver, limits=httpx.Limits(max_connections=copies)) as client,
    ):
        barrier = threading.Barrier(copies)

        def deliver(_: int) -> httpx.Response:
            barrier.wait(timeout=10)
            return post(client, receiver, body, signature=signature)

        with ThreadPoolExecutor(max_workers=copies) as pool:
            responses = list(pool.map(deliver, range(copies)))

        assert [r.status_code for r in responses] == [200] * copies
        fresh = [r for r in responses if r.json() == {"received": True}]
        assert len(fresh) == 1
        assert receiver.effects == [event["id"]]
        assert observed(client, receiver, event["id"]) == 1


def test_a_flawed_subclass_without_dedupe_is_visible_to_the_observer() -> None:
    class NoDedupe(ReferenceReceiver):
        def process(self, event: dict[str, Any]) -> bool:
            self.store.record_effect(event["id"], event["type"])
            return True

    event = envelope()
    with NoDedupe(SECRET) as receiver, client_for(receiver) as client:
        for _ in range(2):
            assert post(client, receiver, encode(event)).status_code == 200
        assert observed(client, receiver, event["id"]) == 2


def test_a_failing_side_effect_leaves_no_record_and_answers_500() -> None:
    class Flaky(ReferenceReceiver):
        failures = 1

        def handle_event(self, event: dict[str, Any]) -> None:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("downstream unavailable")

    event = envelope()
    with Flaky(SECRET) as receiver, client_for(receiver) as client:
        assert post(client, receiver, encode(event)).status_code == 500
        assert observed(client, receiver, event["id"]) == 0
        assert post(client, receiver, encode(event)).json() == {"received": True}
        assert observed(client, receiver, event["id"]) == 1


def test_store_survives_a_receiver_restart(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite3"
    event = envelope()
    body = encode(event)
    with ReferenceReceiver(SECRET, db_path=db) as first, client_for(first) as client:
        assert post(client, first, body).json() == {"received": True}
    with ReferenceReceiver(SECRET, db_path=db) as second, client_for(second) as client:
        assert post(client, second, body).json() == {"received": True, "duplicate": True}
        assert observed(client, second, event["id"]) == 1


def test_store_process_once_rolls_back_when_the_side_effect_fails(tmp_path: Path) -> None:
    store = ReceiverStore(tmp_path / "s.sqlite3")

    def boom() -> None:
        raise RuntimeError("crash mid-processing")

    with pytest.raises(RuntimeError):
        store.process_once("evt_a", "booking.created", boom)
    assert store.processed_count("evt_a") == 0
    assert store.process_once("evt_a", "booking.created") is True
    assert store.process_once("evt_a", "booking.created") is False
    assert ReceiverStore(tmp_path / "s.sqlite3").processed_count("evt_a") == 1


# -- connections, TLS, lifecycle -----------------------------------------------------------


def test_a_client_that_never_handshakes_does_not_block_others(
    receiver: ReferenceReceiver, client: httpx.Client
) -> None:
    silent = [socket.create_connection(("127.0.0.1", receiver.port)) for _ in range(3)]
    try:
        started = time.perf_counter()
        response = post(client, receiver, encode(envelope()))
        elapsed = time.perf_counter() - started
    finally:
        for sock in silent:
            sock.close()
    assert response.status_code == 200
    assert elapsed < 1.0 < receiver.handshake_timeout


def test_a_slow_client_is_cut_off_by_the_read_timeout() -> None:
    class Impatient(ReferenceReceiver):
        handshake_timeout = 0.2
        read_timeout = 0.2

    with Impatient(SECRET) as receiver:
        assert receiver.ca_bundle is not None
        ctx = ssl.create_default_context(cafile=str(receiver.ca_bundle))
        with (
            socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock,
            ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")  # ...and never finishes
            started = time.perf_counter()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                assert tls.recv(1024) == b""  # the receiver hung up
            assert time.perf_counter() - started < 2.0
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as silent:
            started = time.perf_counter()
            with contextlib.suppress(ConnectionError):
                assert silent.recv(1024) == b""  # no handshake: hung up too
            assert time.perf_counter() - started < 2.0


def test_untrusted_clients_fail(receiver: ReferenceReceiver) -> None:
    with (
        httpx.Client(verify=EphemeralCA().client_context(), timeout=5) as stranger,
        pytest.raises(httpx.ConnectError),
    ):
        stranger.get(receiver.observer_url, params={"event_id": "x"})


def _tls11_client() -> ssl.SSLContext:
    """A client that offers only TLS 1.0/1.1 (no verification: only the version matters)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def _can_offer_tls11(client_ctx: ssl.SSLContext) -> bool:
    """Control: does this OpenSSL really negotiate TLS 1.1 against a server that allows it?"""
    server_ctx = EphemeralCA().server_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server_ctx.minimum_version = ssl.TLSVersion.TLSv1
    server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    left, right = socket.socketpair()
    left.settimeout(5)
    right.settimeout(5)

    def serve() -> None:
        with contextlib.suppress(OSError), server_ctx.wrap_socket(right, server_side=True):
            pass

    server = threading.Thread(target=serve)
    server.start()
    try:
        with client_ctx.wrap_socket(left) as tls:
            return tls.version() in ("TLSv1", "TLSv1.1")
    except OSError:
        return False
    finally:
        server.join(timeout=5)
        right.close()


def test_tls_below_1_2_is_refused(receiver: ReferenceReceiver) -> None:
    client_ctx = _tls11_client()
    if not _can_offer_tls11(client_ctx):
        pytest.skip("this OpenSSL cannot offer TLS 1.0/1.1: not verified")
    with (
        socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock,
        pytest.raises(ssl.SSLError),
    ):
        client_ctx.wrap_socket(sock)


def test_stop_closes_connections_and_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    receiver = ReferenceReceiver(SECRET).start()
    client = client_for(receiver)  # keeps an idle keep-alive connection open
    port = receiver.port
    silent = socket.create_connection(("127.0.0.1", port))
    try:
        assert post(client, receiver, encode(envelope())).status_code == 200
        started = time.perf_counter()
        receiver.stop()
        receiver.stop()  # idempotent
        assert time.perf_counter() - started < 2.0
    finally:
        silent.close()
        client.close()
    assert set(threading.enumerate()) - before == set()
    with pytest.raises(RuntimeError):
        receiver.start()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_plain_http_only_on_request() -> None:
    with ReferenceReceiver(SECRET, plain_http=True) as receiver, httpx.Client() as client:
        assert receiver.url.startswith("http://127.0.0.1:")
        assert receiver.ca_bundle is None
        assert post(client, receiver, encode(envelope())).status_code == 200
    with pytest.raises(ValueError):
        ReferenceReceiver(SECRET, plain_http=True, tls=EphemeralCA().server_context())


def test_the_secret_stays_out_of_reprs_and_errors() -> None:
    with ReferenceReceiver(SECRET) as receiver:
        assert SECRET not in repr(receiver)
        assert SECRET not in repr(receiver.store)
    with pytest.raises(ValueError) as excinfo:
        ReferenceReceiver("")
    assert "secret" in str(excinfo.value)


# -- command line -------------------------------------------------------------------------


def _cli_env(secret: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    if secret is not None:
        env[SECRET_ENV] = secret
    return env


CLI = [sys.executable, "-m", "punctual_conformance.reference_receiver"]


def test_cli_without_secret_exits_2_naming_the_variable() -> None:
    result = subprocess.run(
        [*CLI, "--port", "0"], env=_cli_env(None), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert SECRET_ENV in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_serves_until_terminated_and_never_prints_the_secret() -> None:
    proc = subprocess.Popen(
        [*CLI, "--host", "127.0.0.1", "--port", "0"],
        env=_cli_env(SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout or []])
    reader.start()
    printed: dict[str, str] = {}
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while "CA bundle" not in printed:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(line)
            name, _, value = line.partition(":")
            printed[name.strip()] = value.strip()
        url, observer = printed["webhook URL"], printed["observer URL"]
        assert url.startswith("https://127.0.0.1:") and url.endswith("/webhook")
        ctx = ssl.create_default_context(cafile=printed["CA bundle"])
        event = envelope()
        body = encode(event)
        with httpx.Client(verify=ctx, timeout=5) as client:
            response = client.post(
                url, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)}
            )
            assert response.status_code == 200
            assert client.get(observer, params={"event_id": event["id"]}).json() == {"processed": 1}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        reader.join(timeout=5)
    stderr = proc.stderr.read() if proc.stderr else ""
    while not lines.empty():
        seen.append(lines.get())
    assert proc.returncode == 0, stderr
    output = "".join(seen) + stderr
    assert SECRET not in output
    assert "Traceback" not in output
