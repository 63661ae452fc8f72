"""The HTML conformance report: one self-contained file (inline CSS and SVG, no script, no font
or image from the network), rendered with jinja2 from the same data as the JSON report
(``RunResults.to_json``) through the view model of :mod:`punctual_conformance.report_data`.

Every value is escaped by the template (autoescape, nothing marked safe); every text is redacted
with the function given, and the finished page once more as a whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2

from punctual_conformance import __version__
from punctual_conformance.report_data import build_report_view
from punctual_conformance.results import RunResults

__all__ = ["render_html_from_data", "render_html_report", "write_html_report"]

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("punctual_conformance", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html_from_data(data: Mapping[str, Any], redact: Callable[[str], str],
                          suite_version: str = __version__) -> str:
    """The report page for ``data``, the JSON report's dictionary (``RunResults.to_json``)."""
    view = build_report_view(data, suite_version, redact)
    return redact(_ENVIRONMENT.get_template("report.html.j2").render(r=view))


def render_html_report(results: RunResults, redact: Callable[[str], str]) -> str:
    return render_html_from_data(results.to_json(redact), redact)


def write_html_report(results: RunResults, path: Path, redact: Callable[[str], str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html_report(results, redact), encoding="utf-8")
