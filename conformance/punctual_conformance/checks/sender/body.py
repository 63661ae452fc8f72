"""SND-BODY-*: the envelope, its content type, the method and the exact endpoint URL."""

from __future__ import annotations

from typing import Any

from punctual_conformance.checks import check
from punctual_conformance.checks.sender._support import (
    EVIDENCE_CAP,
    body_problems,
    exchange_of,
    exit_summary,
    is_utc,
    parsed_body,
)
from punctual_conformance.evidence import Exchange
from punctual_conformance.outcomes import expect, fail
from punctual_conformance.secret import Secret
from punctual_conformance.sender_fixtures import ScenarioRun

_SAMPLES = 6  # passing attempts shown as evidence


def _judge(scenarios: dict[str, ScenarioRun], secret: Secret, evidence: list[Exchange],
           facts: dict[str, Any], problems_of: Any, expected: str) -> None:
    __tracebackhide__ = True
    checked, wrong = 0, []
    for run in scenarios.values():
        for capture in run.captures:
            checked += 1
            problems = problems_of(run, capture)
            if problems:
                wrong.append(f"{run.name} attempt {capture.index}: {'; '.join(problems)}")
                if len(evidence) < EVIDENCE_CAP:
                    evidence.append(exchange_of(run, capture, secret.reveal()))
            elif capture.index == 1 and len(evidence) < _SAMPLES:
                evidence.append(exchange_of(run, capture, secret.reveal()))
    facts["attempts_checked"] = checked
    if checked == 0:
        fail(expected, "no attempt reached the capture server; the sender: "
             + exit_summary(scenarios))
    expect(not wrong, expected, f"{len(wrong)} of {checked} attempts wrong",
           "\n".join(wrong[:10]))


@check("SND-BODY-01")
def test_body_is_a_valid_event(punctual_scenarios: dict[str, ScenarioRun],
                               punctual_secret: Secret, punctual_evidence: list[Exchange],
                               punctual_facts: dict[str, Any]) -> None:
    _judge(punctual_scenarios, punctual_secret, punctual_evidence, punctual_facts,
           body_problems, "UTF-8 JSON valid against its type's schema, an evt_ id, an RFC "
           "3339 UTC created time, type and data as handed to the sender")


def _content_type_problems(run: ScenarioRun, capture: Any) -> list[str]:
    values = capture.header_values("Content-Type")
    if len(values) != 1:
        return [f"{len(values)} Content-Type headers"]
    media, *params = [part.strip() for part in values[0].split(";")]
    problems = [] if media.lower() == "application/json" else [f"Content-Type {values[0]!r}"]
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            problems.append(f"parameter {param!r} (only charset=utf-8 is allowed)")
    return problems


@check("SND-BODY-02")
def test_content_type_is_json(punctual_scenarios: dict[str, ScenarioRun],
                              punctual_secret: Secret, punctual_evidence: list[Exchange],
                              punctual_facts: dict[str, Any]) -> None:
    _judge(punctual_scenarios, punctual_secret, punctual_evidence, punctual_facts,
           _content_type_problems, "Content-Type: application/json (charset=utf-8 allowed)")


def _target_problems(run: ScenarioRun, capture: Any) -> list[str]:
    problems = []
    if capture.method != "POST":
        problems.append(f"method {capture.method}")
    if capture.target != run.expected_target:
        problems.append(f"request target {capture.target!r} instead of {run.expected_target!r}")
    return problems


@check("SND-BODY-03")
def test_post_to_the_exact_url(punctual_scenarios: dict[str, ScenarioRun],
                               punctual_secret: Secret, punctual_evidence: list[Exchange],
                               punctual_facts: dict[str, Any]) -> None:
    _judge(punctual_scenarios, punctual_secret, punctual_evidence, punctual_facts,
           _target_problems, "POST to the endpoint's exact path and query string")


def _semantic_problems(run: ScenarioRun, capture: Any) -> list[str]:
    envelope, _ = parsed_body(capture)
    if envelope is None:
        return []  # SND-BODY-01's finding
    problems = []
    if "created" in envelope and not is_utc(envelope["created"]):
        problems.append(f"created {envelope['created']!r} is not UTC")
    data = envelope.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return problems
    for key, value in obj.items():
        if key.endswith(("_at", "_time")) and isinstance(value, str) and not is_utc(value):
            problems.append(f"{key} {value!r} is not an RFC 3339 UTC time")
    start, end = obj.get("start_time"), obj.get("end_time")
    if is_utc(start) and is_utc(end) and not str(end) > str(start):
        problems.append(f"end_time {end} is not after start_time {start}")
    slots = obj.get("slots")
    if isinstance(slots, list):
        previous_end = ""
        for n, slot in enumerate(slots):
            if not isinstance(slot, dict):
                continue
            begin, finish = str(slot.get("start", "")), str(slot.get("end", ""))
            if not finish > begin:
                problems.append(f"slot {n}: end {finish} is not after start {begin}")
            if begin < previous_end:
                problems.append(f"slot {n} starts before the previous one ends")
            previous_end = finish
    return problems


@check("SND-BODY-04")
def test_payload_is_semantically_sane(punctual_scenarios: dict[str, ScenarioRun],
                                      punctual_secret: Secret,
                                      punctual_evidence: list[Exchange],
                                      punctual_facts: dict[str, Any]) -> None:
    _judge(punctual_scenarios, punctual_secret, punctual_evidence, punctual_facts,
           _semantic_problems, "end after start, ordered slots, timestamps in UTC")
