"""The HTML report in a real browser: headless Chromium (Debian's ``chromium`` package) driven
by Playwright with the system executable -- no browser download.

The failing scenario is real: the suite runs against a receiver with one flaw (signature
rejections answered 500, so RCV-SIG-06 and RCV-SIG-07 fail). The page must load with no
console error and no network request besides the file itself, show the verdict and every
requirement id, and a failed row's evidence must expand. Screenshots are kept in
``artifacts/`` at the repository root.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flawed_receivers import BadSignature500
from punctual_conformance.report_html import render_html_report
from suite_runner import SuiteRun, run_suite
from test_html_report import redact, sender_results
from toolchains import in_ci, require_executable

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SECRET = "brws-S3cret-7Kq"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--disable-domain-reliability", "--metrics-recording-only", "--mute-audio",
]


def _require_playwright() -> Any:
    if importlib.util.find_spec("playwright") is None:
        message = ("the Python package 'playwright' is not installed; needed to drive "
                   "Chromium for the HTML report test (pip install playwright)")
        if in_ci():
            pytest.fail(f"{message} (CI=true: missing toolchains fail instead of skipping)")
        pytest.skip(message)
    from playwright import sync_api

    return sync_api


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    executable = require_executable("chromium", "the HTML report's browser test "
                                    "(apt-get install chromium)")
    sync_api = _require_playwright()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900}, offline=True,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def flawed_run(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    workdir = tmp_path_factory.mktemp("flawed-run")
    with BadSignature500(SECRET) as receiver:
        assert receiver.ca_bundle is not None
        run = run_suite(workdir, "--punctual-target", receiver.url,
                        "--punctual-ca-bundle", str(receiver.ca_bundle),
                        "--punctual-observer", receiver.observer_url,
                        secret=SECRET, html=True)
    assert run.failed() >= {"RCV-SIG-06", "RCV-SIG-07"}, run.explain()
    return run


class PageLoad:
    def __init__(self, context: Any, path: Path) -> None:
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page = context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        self.page.goto(self.url, wait_until="load")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.console_errors.append(f"{message.type}: {message.text}")

    def assert_offline_and_clean(self) -> None:
        assert self.console_errors == []
        assert [url for url in self.requests if url != self.url] == []


def _screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def test_failed_run_report_in_chromium(chromium: Any, flawed_run: SuiteRun) -> None:
    html_path = flawed_run.workdir / "report.html"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(html_path, ARTIFACTS / "report-failing.html")
    load = PageLoad(chromium, html_path)
    page = load.page
    verdict = page.locator("#verdict")
    assert verdict.is_visible()
    assert "Not conformant" in verdict.inner_text()
    # The failed MUST requirement is named in the first screenful, with its reason.
    attention = page.locator(".attention li", has_text="RCV-SIG-06")
    assert attention.is_visible()
    assert attention.bounding_box()["y"] < 900
    assert "500" in attention.inner_text()
    shot = _screenshot(page, "report-screenshot.png")
    assert shot.stat().st_size > 10_000
    _screenshot(page, "report-full-page.png", full_page=True)

    ids = [row["id"] for row in flawed_run.report["requirements"]]
    for rid in ids:
        row = page.locator(f'[data-requirement="{rid}"] > summary')
        row.scroll_into_view_if_needed()
        assert row.is_visible(), rid
        assert rid in row.inner_text()

    failed = page.locator('[data-requirement="RCV-SIG-06"]')
    evidence = failed.locator(".evidence")
    assert not evidence.is_visible()
    failed.locator("> summary").click()
    assert failed.get_attribute("open") is not None
    assert evidence.is_visible()
    assert "Expected" in evidence.inner_text()
    response = evidence.locator(".exchange[open] .ex-resp").first
    assert response.is_visible()
    assert "500" in response.inner_text()
    failed.scroll_into_view_if_needed()
    page.evaluate("document.getElementById('req-RCV-SIG-06').scrollIntoView()")
    _screenshot(page, "report-failed-row-expanded.png")

    body = page.content()
    assert SECRET not in body
    load.assert_offline_and_clean()
    page.close()


def test_sender_timeline_in_chromium(chromium: Any, tmp_path: Path) -> None:
    html_path = tmp_path / "sender-report.html"
    html_path.write_text(render_html_report(sender_results(), redact), encoding="utf-8")
    load = PageLoad(chromium, html_path)
    page = load.page
    row = page.locator('[data-requirement="SND-RETRY-05"]')
    row.locator("> summary").click()
    chart = row.locator("figure.timeline svg").first
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 60
    assert row.locator("figure.timeline .mark").count() == 4
    page.evaluate("document.getElementById('req-SND-RETRY-05').scrollIntoView()")
    _screenshot(page, "report-sender-timeline.png")
    load.assert_offline_and_clean()
    page.close()
