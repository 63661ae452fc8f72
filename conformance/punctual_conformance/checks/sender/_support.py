"""Helpers shared by the sender checks (not collected: the name starts with '_').

Backoff judgement (SND-RETRY-05), decisions the profile leaves open:

* The gaps judged are between the *arrivals* of successive attempts at the capture server, up
  to the first 2xx (later attempts are SND-RETRY-04's finding).
* Tolerance ``slack``: 20 ms of scheduling noise plus three times the capture server's
  measured gap error (see the ``capture server timing error`` note of every run).
* With a declared schedule (``first_delay_s`` and ``factor``, see
  :mod:`punctual_conformance.sender_command`): delay n must be at least its nominal value
  ``first_delay_s x time scale x factor^(n-1) x (1 - jitter) - slack``. These are lower bounds
  only, on purpose: a loaded machine only ever *lengthens* a delay (a late wake-up), and a
  lengthened delay would make the ratio to the next one look too small, so comparing
  successive measured delays produces false failures under load, nominal lower bounds do not.
  A constant, linear, zero or immediate schedule falls below them from the second or third
  delay on.
* Without a declaration: the first retry must come at least ``slack`` after the first attempt
  (not immediate), and every delay must satisfy ``d[n+1] + slack >= r x (d[n] - slack)`` with
  ``r = 1.5`` (factor 1.5, no jitter tolerance): a doubling schedule with up to about ±15 %
  jitter passes, constant or linear delays fail. This comparison is sensitive to load; a
  sender should declare its schedule.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from punctual_conformance.capture_server import Capture
from punctual_conformance.evidence import Exchange, excerpt
from punctual_conformance.schemas import event_errors
from punctual_conformance.sender_command import Declaration
from punctual_conformance.sender_fixtures import ScenarioRun, event_file_envelope
from punctual_conformance.signing import SIGNATURE_HEADER, sign

EVIDENCE_CAP = 40  # exchanges one check shows (a flooding sender makes thousands)
REPORTED_CAP = 100  # attempt lines one check shows
DEFAULT_FACTOR = 1.5
DEFAULT_JITTER = 0.0
_RFC3339_UTC = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|z|\+00:00)$")


def exchange_of(run: ScenarioRun, capture: Capture, secret: str, label: str = "") -> Exchange:
    """A received attempt as report evidence (time, gap and answer in the label)."""
    earlier = [c for c in run.captures if c.index == capture.index - 1]
    gap = f", gap {capture.arrived - earlier[0].arrived:.3f} s" if earlier else ""
    at = capture.arrived - run.run.started
    error = None
    if capture.action.kind == "hold":
        error = ("held without an answer; the sender hung up after "
                 f"{capture.client_closed - capture.arrived:.3f} s"
                 if capture.client_closed is not None else
                 "held without an answer until the scenario ended")
    elif capture.action.kind == "reset":
        error = "connection reset by the suite (scripted)"
    return Exchange(
        label=label or (f"{run.name} attempt {capture.index} at +{at:.3f} s{gap}: "
                        f"answered {capture.action.describe()}"),
        method=capture.method,
        url=run.server.base_url + capture.target,
        request_headers={k: v for k, v in capture.headers},
        request_body=excerpt(capture.body),
        request_size=capture.body_size,
        status=capture.status,
        # How long the suite took to answer (Exchange.observed() needs it with a status).
        latency_ms=None if capture.answered is None or capture.status is None
        else (capture.answered - capture.arrived) * 1000,
        error=error,
        event_id=_event_id(capture.body),
        # ``valid`` stays False: in receiver mode it marks the suite's valid deliveries whose
        # acknowledgement latency the terminal summarises; sender attempts are not those.
        valid=False,
    )


def exit_summary(scenarios: dict[str, ScenarioRun]) -> str:
    """How the sender's runs ended, e.g. ``19 runs: 19x exit 3``."""
    kinds = Counter(run.run.exit_kind() for run in scenarios.values())
    shown = ", ".join(f"{count}x {kind}" for kind, count in kinds.most_common(3))
    more = "" if len(kinds) <= 3 else f", {len(kinds) - 3} other kind(s)"
    return f"{len(scenarios)} runs: {shown}{more}"


def _event_id(body: bytes) -> str | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value.get("id") if isinstance(value, dict) and isinstance(
        value.get("id"), str) else None


def signature_problem(capture: Capture, secret: str) -> str | None:
    """What is wrong with the attempt's signature, or ``None``."""
    values = capture.header_values(SIGNATURE_HEADER)
    if not values:
        others = [k for k, _ in capture.headers if "signature" in k.lower()]
        return f"no {SIGNATURE_HEADER} header" + (
            f" (found {', '.join(others)})" if others else "")
    if len(values) > 1:
        return f"{len(values)} {SIGNATURE_HEADER} headers"
    expected = sign(secret, capture.body)
    value = values[0]
    if value == expected:
        return None
    if value.lower() == expected:
        return "the right digest in uppercase hex (lowercase required)"
    return f"{value[:80]!r} is not the lowercase hex HMAC-SHA256 of the body"


def parsed_body(capture: Capture) -> tuple[dict[str, Any] | None, str | None]:
    try:
        text = capture.body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "the body is not UTF-8"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None, "the body is not JSON"
    if not isinstance(value, dict):
        return None, "the body is not a JSON object"
    return value, None


def body_problems(run: ScenarioRun, capture: Capture) -> list[str]:
    """SND-BODY-01 for one attempt."""
    envelope, problem = parsed_body(capture)
    if envelope is None:
        return [problem or "unreadable body"]
    given = event_file_envelope(run)
    problems = [f"{v.path or '/'}: {v.message}"
                for v in event_errors(envelope, expected_type=given["type"])]
    event_id = envelope.get("id")
    if not isinstance(event_id, str) or not event_id.startswith("evt_"):
        problems.append(f"id {event_id!r} does not start with evt_")
    created = envelope.get("created")
    if not isinstance(created, str) or not _RFC3339_UTC.match(created):
        problems.append(f"created {created!r} is not an RFC 3339 UTC time")
    if envelope.get("type") != given["type"]:
        problems.append(f"type {envelope.get('type')!r} instead of {given['type']!r}")
    if envelope.get("data") != given["data"]:
        problems.append("data differs from the event handed to the sender")
    return problems


def is_utc(value: object) -> bool:
    return isinstance(value, str) and bool(_RFC3339_UTC.match(value))


@dataclass(frozen=True)
class BackoffJudgement:
    problems: list[str]
    facts: dict[str, Any]


def judge_backoff(arrivals: list[float], declaration: Declaration | None, time_scale: float,
                  slack_s: float) -> BackoffJudgement:
    """Judge the gaps between attempt arrivals (see the module docstring)."""
    declared = (declaration is not None and declaration.factor is not None
                and declaration.first_delay_s is not None)
    factor = (declaration.factor if declaration and declaration.factor else DEFAULT_FACTOR)
    jitter = (declaration.jitter if declaration and declaration.jitter is not None
              else DEFAULT_JITTER)
    jitter = min(max(jitter, 0.0), 0.99)
    ratio = factor * (1 - jitter) / (1 + jitter)
    gaps = [b - a for a, b in pairwise(arrivals)]
    facts: dict[str, Any] = {
        "schedule": "declared by the sender" if declared else "not declared: defaults",
        "factor": factor, "jitter": jitter, "time_scale": time_scale,
        "slack_ms": round(slack_s * 1000, 2),
        "gaps_ms": [round(g * 1000, 2) for g in gaps],
        "ratios": [round(b / a, 3) if a > 0 else None for a, b in pairwise(gaps)],
    }
    if not gaps:
        return BackoffJudgement([f"{len(arrivals)} attempt(s): no retry to judge"], facts)
    if declared:
        assert declaration is not None and declaration.first_delay_s is not None
        first = declaration.first_delay_s * time_scale
        minimums = [max(first * factor ** n * (1 - jitter) - slack_s, slack_s)
                    for n in range(len(gaps))]
        rule = f"the declared schedule: delay n at least {first * 1000:.0f} ms x {factor:g}^(n-1)"
    else:
        minimums = [slack_s] + [max(ratio * (a - slack_s) - slack_s, 0.0) for a in gaps[:-1]]
        rule = f"each delay at least x{ratio:.2f} the one before (no schedule declared)"
    facts["rule"] = rule + f", -{jitter:.0%} jitter, -{slack_s * 1000:.0f} ms tolerance"
    facts["min_gaps_ms"] = [round(m * 1000, 2) for m in minimums]
    problems: list[str] = []
    if gaps[0] < minimums[0]:
        problems.append(f"first retry {gaps[0] * 1000:.0f} ms after the first attempt "
                        f"(at least {minimums[0] * 1000:.0f} ms expected)")
    if len(gaps) < 2:
        problems.append("only one retry: no growth of the delays to judge")
    for n, (gap, minimum) in enumerate(zip(gaps, minimums, strict=True), start=1):
        if n > 1 and gap < minimum:
            problems.append(f"delay {n} is {gap * 1000:.0f} ms (after {gaps[n - 2] * 1000:.0f}"
                            f" ms): at least {minimum * 1000:.0f} ms expected")
    return BackoffJudgement(problems, facts)


def attempt_table(run: ScenarioRun) -> list[dict[str, Any]]:
    """Every attempt's time (from the sender's start), answer and gap, for the report."""
    table = []
    previous: float | None = None
    for capture in run.captures:
        table.append({
            "attempt": capture.index,
            "at_s": round(capture.arrived - run.run.started, 4),
            "gap_s": None if previous is None else round(capture.arrived - previous, 4),
            "status": capture.status,
            "answer": capture.action.describe(),
        })
        previous = capture.arrived
    return table


def run_facts(run: ScenarioRun) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "scenario": run.name,
        "script": [a.describe() for a in run.scenario.script],
        "sender": run.run.describe_exit(),
        "time_scale": run.time_scale,
        "attempts": attempt_table(run),
        "reported": [r.raw for r in run.reports[:REPORTED_CAP]],
    }
    if len(run.reports) > REPORTED_CAP:
        facts["reported_not_shown"] = len(run.reports) - REPORTED_CAP
    if run.unrecorded:
        facts["requests_not_recorded"] = run.unrecorded
    if run.run.stdout_truncated:
        facts["stdout_truncated"] = True
    if run.run.strays_killed:
        facts["stray_processes_killed"] = run.run.strays_killed
    if run.run.garbage:
        facts["unparsed_stdout_lines"] = run.run.garbage
    if run.run.stderr:
        facts["stderr_excerpt"] = run.run.stderr[-1000:]
    if run.grace_s:
        facts["watched_after_2xx_s"] = round(run.grace_s, 3)
    return facts
