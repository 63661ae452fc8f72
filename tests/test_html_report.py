"""The HTML report without a browser: it agrees with the JSON report row for row, escapes and
redacts everything, is self-contained, and draws sender attempt timelines from check facts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from flawed_receivers import BadSignature500
from punctual_conformance.catalogue import Mode, requirements_for
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import Outcome
from punctual_conformance.report_data import build_report_view, timelines_from_facts
from punctual_conformance.report_html import render_html_from_data, render_html_report
from punctual_conformance.results import CheckResult, RunResults
from suite_runner import SuiteRun, run_suite

REPORT_SECRET = "whsec_Distinct1ve-<b>&\"'-🔑"
RUN_SECRET = "html-run-S3cret-Qx7"


def redact(text: str) -> str:
    return text.replace(REPORT_SECRET, "[secret redacted]")


# -- made-up runs -----------------------------------------------------------------------------


def _exchange(label: str, status: int | None, *, secret_in: str = "", latency: float = 3.2,
              valid: bool = False, body: str = '{"id":"evt_1","type":"booking.created"}',
              error: str | None = None) -> Exchange:
    return Exchange(
        label=label, method="POST", url="https://receiver.example/webhook",
        request_headers={"Content-Type": "application/json",
                         "Punctual-Signature": "ab" * 32,
                         "X-Debug": f"key={secret_in}" if secret_in else "none"},
        request_body=body + secret_in, request_size=len(body),
        status=status, response_headers={"content-type": "application/json"},
        response_body='{"error": "bad"}' if status and status >= 300 else '{"received": true}',
        latency_ms=None if status is None else latency, error=error,
        event_id="evt_1", valid=valid,
    )


def receiver_results(*, secret_in: str = "", development: bool = False) -> RunResults:
    started = datetime(2026, 5, 4, 12, 0, 0, tzinfo=timezone.utc)
    results = RunResults(mode=Mode.RECEIVER, target=f"https://receiver.example/webhook{secret_in}",
                         development_mode=development,
                         command_line=f"pytest --punctual-target https://receiver.example/webhook"
                                      f"{secret_in} --punctual-report r.html",
                         seed=7, started=started, finished=started + timedelta(seconds=12.5))
    for requirement in requirements_for(Mode.RECEIVER):
        if requirement.id == "RCV-SIG-06":
            results.add(CheckResult(
                requirement.id, f"signature.py::test_bad[{requirement.id}-missing]",
                Outcome.FAILED,
                f"Expected: a 4xx answer\nObserved: 500 for a missing signature {secret_in}",
                0.01, [_exchange("missing signature", 500, secret_in=secret_in)],
                {"note": f"facts carry text too {secret_in}"}))
        elif requirement.id == "RCV-IDEM-03":
            results.add(CheckResult(requirement.id, "idempotency.py::test_concurrent",
                                    Outcome.NOT_VERIFIED, "no observer configured"))
        elif requirement.id == "RCV-TLS-03":
            continue  # not selected: skipped
        else:
            results.add(CheckResult(
                requirement.id, f"x.py::test[{requirement.id}]", Outcome.PASSED, "", 0.002,
                [_exchange("valid <script>alert(1)</script>", 200, valid=True,
                           latency=float(len(results.checks) + 1))]))
    return results


def sender_results() -> RunResults:
    """A sender run whose backoff check failed: the third gap came too early."""
    started = datetime(2026, 5, 4, 12, 0, 0, tzinfo=timezone.utc)
    results = RunResults(mode=Mode.SENDER, target="python -m my_sender --deliver",
                         command_line="pytest --punctual-sender-cmd 'python -m my_sender'",
                         seed=0, started=started, finished=started + timedelta(seconds=30))
    attempts: list[dict[str, Any]] = [
        {"attempt": 1, "at_ms": 0.0, "status": 500, "gap_ms": None, "expected_min_gap_ms": None},
        {"attempt": 2, "at_ms": 510.0, "status": 503, "gap_ms": 510.0,
         "expected_min_gap_ms": 400.0},
        {"attempt": 3, "at_ms": 1560.0, "status": 500, "gap_ms": 1050.0,
         "expected_min_gap_ms": 800.0},
        {"attempt": 4, "at_ms": 1900.0, "status": 200, "gap_ms": 340.0,
         "expected_min_gap_ms": 1680.0},
    ]
    for requirement in requirements_for(Mode.SENDER):
        if requirement.id == "SND-RETRY-05":
            results.add(CheckResult(
                requirement.id, "retry.py::test_backoff_is_exponential[SND-RETRY-05]",
                Outcome.FAILED,
                "Expected: exponential backoff: each delay at least x1.6 the one before\n"
                "Observed: the gap before attempt 4 was 340 ms, at least 1680 ms expected",
                2.0, [_exchange(f"attempt {a['attempt']}", int(str(a["status"])))
                      for a in attempts],
                {"scenario": "backoff", "attempts": attempts,
                 "backoff": {"factor": 2.0, "jitter": 0.1}}))
        elif requirement.id == "SND-RETRY-01":
            # The sender helper's own shape (seconds from the sender's start, answer text).
            results.add(CheckResult(
                requirement.id, "retry.py::test_non_2xx_is_retried[SND-RETRY-01-500]",
                Outcome.PASSED, "", 1.0, [],
                {"scenario": "status-500", "attempts": [
                    {"attempt": 1, "at_s": 0.25, "gap_s": None, "answer": "500"},
                    {"attempt": 2, "at_s": 0.75, "gap_s": 0.5, "answer": "200"}]}))
        else:
            results.add(CheckResult(requirement.id, f"x.py::test[{requirement.id}]",
                                    Outcome.PASSED))
    return results


def sender_report_data() -> dict[str, Any]:
    return sender_results().to_json(redact)


# -- parsing the page -------------------------------------------------------------------------


class ReportParser(HTMLParser):
    """Rows (elements with data-requirement) and the texts of their c-* cells; every tag."""

    CELLS = ("c-id", "c-title", "c-reason")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict[str, str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.verdict = ""
        self._cell: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if "data-verdict" in attributes:
            self.verdict = attributes["data-verdict"]
        if "data-requirement" in attributes:
            self.rows.append({"id": attributes["data-requirement"],
                              "outcome": attributes.get("data-outcome", ""),
                              "level": attributes.get("data-level", ""),
                              "area": attributes.get("data-area", ""),
                              "c-id": "", "c-title": "", "c-reason": ""})
        if self._cell is not None:
            self._depth += 1
            return
        classes = attributes.get("class", "").split()
        cell = next((c for c in self.CELLS if c in classes), None)
        if cell is not None and self.rows:
            self._cell, self._depth = cell, 1

    def handle_endtag(self, tag: str) -> None:
        if self._cell is not None:
            self._depth -= 1
            if self._depth == 0:
                self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self.rows[-1][self._cell] += data


def parse(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    parser.close()
    return parser


def _squash(text: str) -> str:
    return " ".join(text.split())


def assert_rows_agree(html: str, report: dict[str, Any]) -> None:
    parsed = parse(html)
    assert parsed.verdict == report["verdict"]
    html_rows = [
        {"id": r["id"], "level": r["level"], "outcome": r["outcome"], "area": r["area"],
         "title": _squash(r["c-title"]), "reason": _squash(r["c-reason"]), "shown": r["c-id"]}
        for r in parsed.rows
    ]
    json_rows = [
        {"id": r["id"], "level": r["level"], "outcome": r["outcome"], "area": r["area"],
         "title": _squash(r["title"]), "reason": _squash(r["reason"]), "shown": r["id"]}
        for r in report["requirements"]
    ]
    assert html_rows == json_rows


# -- a real run: the suite against a receiver with one flaw -----------------------------------


@pytest.fixture(scope="module")
def flawed_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    workdir = tmp_path_factory.mktemp("html-flawed-run")
    with BadSignature500(RUN_SECRET) as receiver:
        assert receiver.ca_bundle is not None
        return run_suite(workdir, "--punctual-target", receiver.url,
                         "--punctual-ca-bundle", str(receiver.ca_bundle),
                         "--punctual-observer", receiver.observer_url,
                         secret=RUN_SECRET, html=True)


def test_html_and_json_of_one_run_agree_row_for_row(flawed_run: SuiteRun) -> None:
    assert flawed_run.failed() >= {"RCV-SIG-06", "RCV-SIG-07"}, flawed_run.explain()
    html = (flawed_run.workdir / "report.html").read_text(encoding="utf-8")
    assert_rows_agree(html, flawed_run.report)
    for row in parse(html).rows:
        if row["outcome"] in ("failed", "not-verified"):
            assert row["c-reason"].strip(), row["id"]
    assert RUN_SECRET not in html


def test_real_run_shows_latency_and_reproduction(flawed_run: SuiteRun) -> None:
    html = (flawed_run.workdir / "report.html").read_text(encoding="utf-8")
    assert "Acknowledgement latency" in html
    assert re.search(r"p95</span>", html)
    assert str(escape(flawed_run.report["command_line"])) in html
    assert "--punctual-ca-bundle" in html


def test_made_up_runs_agree_row_for_row() -> None:
    for results in (receiver_results(), sender_results()):
        report = results.to_json(redact)
        assert_rows_agree(render_html_report(results, redact), report)


# -- secrets, escaping, self-containment ------------------------------------------------------


def test_secret_never_appears() -> None:
    results = receiver_results(secret_in=REPORT_SECRET)
    html = render_html_report(results, redact)
    for form in (REPORT_SECRET, str(escape(REPORT_SECRET)), "Distinct1ve"):
        assert form not in html
    assert "[secret redacted]" in html


def test_secret_in_facts_of_any_shape_is_redacted() -> None:
    data = receiver_results().to_json(redact)
    data["requirements"][0]["checks"][0]["facts"] = {"nested": [{"x": REPORT_SECRET}]}
    data["notes"] = [f"note {REPORT_SECRET}"]
    html = render_html_from_data(data, redact)
    assert "Distinct1ve" not in html


def test_everything_is_escaped() -> None:
    html = render_html_report(receiver_results(), redact)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_self_contained() -> None:
    for results in (receiver_results(), sender_results()):
        parsed = parse(render_html_report(results, redact))
        for tag, attributes in parsed.tags:
            assert tag not in ("script", "link", "img", "iframe", "object", "embed"), tag
            assert "src" not in attributes
            assert attributes.get("href", "#").startswith("#")
            assert not any(name.startswith("on") for name in attributes)
    page = render_html_report(receiver_results(), redact)
    assert "@import" not in page and "url(" not in page and "@font-face" not in page
    assert "default-src 'none'" in page  # the page itself forbids any load or script


# -- what the page says -----------------------------------------------------------------------


def test_banner_and_run_facts() -> None:
    html = render_html_report(receiver_results(), redact)
    assert 'data-verdict="not-conformant"' in html
    assert "Not conformant" in html
    assert "1 requirement(s) failed, 1 of them MUST: RCV-SIG-06" in html
    assert "https://receiver.example/webhook" in html
    assert "2026-05-04 12:00:00 UTC" in html and "12.5 s" in html
    assert "punctual-webhooks/v1" in html
    # The attention list names the failure first, with its reason.
    attention = re.sub(r"<[^>]+>", "", html.split('class="attention"')[1].split("</section>")[0])
    assert attention.index("RCV-SIG-06") < attention.index("RCV-IDEM-03")
    assert "Observed: 500 for a missing signature" in attention


def test_development_mode_is_marked() -> None:
    html = render_html_report(receiver_results(development=True), redact)
    assert "development mode" in html
    assert "no conformance claim" in html


def test_conformant_banner() -> None:
    results = receiver_results()
    results.checks = [c for c in results.checks if c.outcome is Outcome.PASSED]
    results.checks += [CheckResult(r, "x.py::t", Outcome.PASSED)
                       for r in ("RCV-SIG-06", "RCV-IDEM-03", "RCV-TLS-03")]
    html = render_html_report(results, redact)
    assert 'data-verdict="conformant"' in html
    assert 'class="attention"' not in html


def test_latency_for_receivers_only() -> None:
    view = build_report_view(receiver_results().to_json(redact), "0")
    assert view.latency is not None
    assert view.latency.count == 20  # the passed rows' valid deliveries
    assert view.latency.p50_ms <= view.latency.p95_ms <= view.latency.max_ms
    assert build_report_view(sender_report_data(), "0").latency is None
    html = render_html_report(sender_results(), redact)
    assert "Acknowledgement latency" not in html


def test_evidence_shows_request_and_response() -> None:
    html = render_html_report(receiver_results(), redact)
    row = html.split('id="req-RCV-SIG-06"')[1].split("</details>\n")[0]
    assert "Request sent" in row and "Punctual-Signature" in row
    assert "Response" in row and "500" in row and "3.2 ms" in row
    assert "Expected: a 4xx answer" in row


# -- sender timelines -------------------------------------------------------------------------


def test_timeline_from_the_documented_facts_shape() -> None:
    facts = sender_report_data()["requirements"]
    row = next(r for r in facts if r["id"] == "SND-RETRY-05")
    (timeline,) = timelines_from_facts(row["checks"][0]["facts"])
    assert timeline.title == "backoff"
    assert [m.attempt for m in timeline.marks] == [1, 2, 3, 4]
    assert [m.ok for m in timeline.marks] == [False, False, False, True]
    assert [g.too_short for g in timeline.gaps] == [False, False, True]
    assert timeline.violations == 1
    xs = [m.x for m in timeline.marks]
    assert xs == sorted(xs) and timeline.plot_x0 <= xs[0] and xs[-1] <= timeline.plot_x1


def test_timeline_from_seconds_and_nested_facts() -> None:
    facts = {"scenarios": {"status-500": {"attempts": [
        {"attempt": 1, "at_s": 0.25, "answer": "500"},
        {"attempt": 2, "at_s": 0.75, "answer": "200"}]}}}
    (timeline,) = timelines_from_facts(facts)
    assert timeline.title == "facts.scenarios.status-500"
    assert [m.at_ms for m in timeline.marks] == [0.0, 500.0]
    assert [m.ok for m in timeline.marks] == [False, True]
    assert timelines_from_facts({"attempts": "3"}) == []
    assert timelines_from_facts({"attempts": [{"no": 1}]}) == []


def test_timeline_rendered_in_sender_report(tmp_path: Path) -> None:
    html = render_html_report(sender_results(), redact)
    row = html.split('id="req-SND-RETRY-05"')[1].split('<details class="req')[0]
    assert row.count("<svg") == 1
    assert row.count('class="mark ') == 4
    assert "too early" in row
    assert "1 gap(s) outside the expected backoff" in row
    assert html.split('id="req-SND-RETRY-01"')[1].split('<details class="req')[0].count("<svg") == 1
