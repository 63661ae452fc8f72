"""The webhook secret never leaves: not in any output, report, test id, repr or exception,
also when a hostile receiver echoes it back (raw, JSON-escaped, HTML-escaped, URL-encoded)."""

from __future__ import annotations

import html
import json
import urllib.parse
from pathlib import Path

import pytest

from punctual_conformance.client import TargetClient
from punctual_conformance.evidence import Exchange
from punctual_conformance.reference_receiver import Envelope, ReferenceReceiver, Reply
from punctual_conformance.secret import SECRET_ENV, MissingSecret, Secret
from suite_runner import SuiteRun, run_suite

SECRET = "Zq9-ﬁ-sécret-✓-7731 \"quoted\" <b>&amp;"


def forms(secret: str) -> list[str]:
    """The secret as a report or log might carry it."""
    return sorted({secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
                   html.escape(secret), urllib.parse.quote(secret)})


class EchoesTheSecret(ReferenceReceiver):
    """Hostile: puts the secret into every rejection (body and header) and acknowledgement."""

    def reject(self, status: int, message: str) -> Reply:
        return Reply(500, {"error": f"expected a signature keyed with {SECRET}",
                           "escaped": html.escape(SECRET), "quoted": urllib.parse.quote(SECRET)},
                     {"X-Debug-Key": urllib.parse.quote(SECRET)})

    def acknowledge(self, event: Envelope, duplicate: bool) -> Reply:
        return Reply(200, {"received": True, "key": SECRET})


def outputs(run: SuiteRun) -> dict[str, str]:
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for path in run.workdir.iterdir():
        if path.is_file():
            texts[path.name] = path.read_text(encoding="utf-8", errors="replace")
    return texts


def assert_no_secret(run: SuiteRun) -> None:
    texts = outputs(run)
    assert {"report.json", "report.html", "junit.xml"} <= set(texts), sorted(texts)
    for name, text in texts.items():
        for form in forms(SECRET):
            assert form not in text, f"the secret ({form!r}) appears in {name}"


@pytest.mark.slow
def test_failing_run_against_an_echoing_receiver_leaks_nothing(tmp_path: Path) -> None:
    with EchoesTheSecret(SECRET) as receiver:
        assert receiver.ca_bundle is not None
        run = run_suite(tmp_path, "--punctual-target", receiver.url, "--punctual-ca-bundle",
                        str(receiver.ca_bundle), "--punctual-observer", receiver.observer_url,
                        "--junitxml", str(tmp_path / "junit.xml"),
                        secret=SECRET, html=True)
    assert run.report["verdict"] == "not-conformant", run.explain()
    assert "RCV-SIG-06" in run.failed()
    assert "[secret redacted]" in run.stdout + json.dumps(run.report)  # the echo was seen
    assert_no_secret(run)


@pytest.mark.slow
def test_conformant_run_leaks_nothing(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--punctual-target", "reference", "--junitxml",
                    str(tmp_path / "junit.xml"), secret=SECRET, html=True)
    assert run.report["verdict"] == "conformant", run.explain()
    assert_no_secret(run)


def test_reprs_and_exceptions_never_show_the_secret() -> None:
    secret = Secret(SECRET)
    receiver = ReferenceReceiver(SECRET)
    client = TargetClient("https://127.0.0.1:9/webhook", secret, timeout=1)
    try:
        texts = [repr(secret), str(secret), repr(receiver), str(receiver), repr(client),
                 str(MissingSecret())]
        with pytest.raises(TypeError) as pickled:
            __import__("pickle").dumps(secret)
        texts.append(str(pickled.value))
        exchange = client.deliver(b"{}", label="refused")  # nothing listens on port 9
        texts += [repr(exchange), json.dumps(exchange.to_dict())]
    finally:
        client.close()
    for text in texts:
        for form in forms(SECRET):
            assert form not in text
    assert SECRET_ENV in str(MissingSecret())


def test_redaction_covers_the_encodings_a_target_may_echo() -> None:
    secret = Secret(SECRET)
    echoed = " | ".join(forms(SECRET))
    redacted = secret.redact(echoed)
    for form in forms(SECRET):
        assert form not in redacted
    assert redacted.count("[secret redacted]") == len(forms(SECRET))


def test_a_hostile_answer_is_redacted_where_it_is_recorded(tmp_path: Path) -> None:
    with EchoesTheSecret(SECRET) as receiver:
        assert receiver.ca_bundle is not None
        from punctual_conformance.client import client_ssl_context

        with TargetClient(receiver.url, Secret(SECRET), timeout=5,
                          ssl_context=client_ssl_context(receiver.ca_bundle)) as client:
            exchange: Exchange = client.deliver(b"{}", label="bad signature", signature="00")
    assert exchange.status == 500
    text = json.dumps(exchange.to_dict(), ensure_ascii=False)
    assert "[secret redacted]" in text
    for form in forms(SECRET):
        assert form not in text
