"""The HTML conformance report: one self-contained file (inline CSS, no script or font from
the network), rendered with jinja2 from the same data as the JSON report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2

from punctual_conformance import __version__
from punctual_conformance.results import RunResults

__all__ = ["render_html_report", "write_html_report"]

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("punctual_conformance", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def render_html_report(results: RunResults, redact: Callable[[str], str]) -> str:
    data = results.to_json(redact)
    return redact(
        _ENVIRONMENT.get_template("report.html.j2").render(report=data, suite_version=__version__)
    )


def write_html_report(results: RunResults, path: Path, redact: Callable[[str], str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html_report(results, redact), encoding="utf-8")
