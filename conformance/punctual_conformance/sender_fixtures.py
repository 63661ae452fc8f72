"""Fixtures of the sender-mode checks (registered only with ``--punctual-sender-cmd``).

| fixture | scope | type | what |
|---|---|---|---|
| ``punctual_settings`` | session | ``Settings`` | resolved options (shared with receiver mode) |
| ``punctual_secret`` | session | ``Secret`` | the webhook secret (never printed) |
| ``punctual_facts`` | function | ``dict`` | figures a check reports (shared with receiver mode) |
| ``punctual_sender`` | session | ``SenderCommand`` | the sender under test |
| ``punctual_capture`` | session | ``CaptureRig`` | the capture servers, CA bundle, timing error |
| ``punctual_scenarios`` | session | ``dict[str, ScenarioRun]`` | every scenario, run once |
| ``punctual_evidence`` | function | ``list[Exchange]`` | attempts shown in the check's report |

How the scenarios run (decisions the profile leaves open):

* Each scenario is one run of the sender command with its own endpoint path (with a query
  string) on the capture server and a fresh event file; the first request to the path gets the
  script's first answer, and so on (:data:`SCENARIOS`).
* Time scale: the sender gets ``PUNCTUAL_TIME_SCALE`` = :data:`DEFAULT_TIME_SCALE` (0.004,
  or the suite's own ``PUNCTUAL_TIME_SCALE``). The give-up, ``http://`` and untrusted
  certificate scenarios judge no timing and get a scale 200 times smaller, so a sender with
  a schedule of days (the reference sender: 12 attempts over ~34 h) gives up in seconds.
* Bound: a scenario may run :data:`SCENARIO_BOUND_S` (10 s, or ``PUNCTUAL_SCENARIO_BOUND``);
  then the sender's process group is killed and the rows judging it fail.
* SND-RETRY-04's grace period: after the first 2xx the suite keeps recording for
  max(1 s, 3 x the largest gap between attempts seen before it), also after the sender exits.
* Refused connections: the ``refused`` scenario's port is bound but not listening until the
  sender reports its first attempt on stdout (or after half the bound, when it reports
  nothing: then the row is *not verified*, the refusal cannot be shown).
* Scenarios run all at once (one thread each, waiting on its sender); the ``backoff``
  scenario, whose timing is judged, runs alone afterwards, so the load of the others does
  not distort its gaps.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from punctual_conformance.capture_server import (
    HOLD,
    RESET,
    Action,
    Capture,
    CaptureServer,
    Route,
    TimingError,
    measure_timing_error,
    redirect,
    respond,
)
from punctual_conformance.events import Event, new_event
from punctual_conformance.evidence import Exchange
from punctual_conformance.fixtures import punctual_facts, punctual_secret, punctual_settings
from punctual_conformance.schemas import EVENT_TYPES
from punctual_conformance.secret import Secret
from punctual_conformance.sender_command import AttemptReport, SenderCommand, SenderRun
from punctual_conformance.settings import Settings
from punctual_conformance.state import EVIDENCE_KEY, results_of
from punctual_conformance.tls import EphemeralCA

__all__ = [
    "SCENARIOS",
    "CaptureRig",
    "Scenario",
    "ScenarioRun",
    "punctual_facts",
    "punctual_secret",
    "punctual_settings",
]

DEFAULT_TIME_SCALE = 0.004
FAST_FACTOR = 0.005
SCENARIO_BOUND_S = 10.0
REFUSE_FALLBACK_FRACTION = 0.5  # of the bound
MIN_GRACE_S = 1.0
PARALLEL = 18


@dataclass(frozen=True)
class Scenario:
    name: str
    script: tuple[Action, ...]
    event_type: str = "booking.created"
    server: str = "main"  # main | plain | untrusted | refusing
    fast: bool = False  # judged without timing: a 200 times smaller time scale
    alone: bool = False  # timing judged: runs with nothing else running


RETRY_STATUSES = (500, 503, 429, 404, 400)
BACKOFF_FAILURES = 3

SCENARIOS: tuple[Scenario, ...] = (
    *(Scenario(f"baseline-{t}", (respond(200),), event_type=t) for t in EVENT_TYPES),
    *(Scenario(f"status-{code}", (respond(code), respond(200))) for code in RETRY_STATUSES),
    Scenario("timeout", (HOLD, respond(200)), event_type="booking.updated"),
    Scenario("reset", (RESET, respond(200)), event_type="booking.cancelled"),
    Scenario("refused", (respond(200),), event_type="user.created", server="refusing"),
    Scenario("redirect", (redirect(307), respond(200)), event_type="team.member_added"),
    Scenario("backoff", (*[respond(500)] * BACKOFF_FAILURES, respond(200)),
             event_type="availability.updated", alone=True),
    Scenario("give-up", (respond(500),), fast=True),
    Scenario("http-endpoint", (respond(200),), server="plain", fast=True),
    Scenario("untrusted-cert", (respond(200),), server="untrusted", fast=True),
)


@dataclass
class CaptureRig:
    """The capture servers of the run: the main HTTPS one (certificate from the CA handed to
    the sender), a plain-HTTP one, and one whose certificate comes from another CA."""

    ca: EphemeralCA
    ca_bundle: Path
    main: CaptureServer
    plain: CaptureServer
    untrusted: CaptureServer
    workdir: Path
    timing: TimingError
    time_scale: float
    bound_s: float
    extra: list[CaptureServer] = field(default_factory=list)

    @property
    def slack_s(self) -> float:
        """Tolerance of a measured gap: 20 ms of scheduling noise plus three times the
        capture server's own measured gap error."""
        return 0.020 + 3 * self.timing.gap_error_ms / 1000


@dataclass
class ScenarioRun:
    """One scenario's run and everything observed."""

    scenario: Scenario
    url: str
    expected_target: str
    event: Event
    server: CaptureServer
    route: Route
    run: SenderRun
    time_scale: float
    captures: list[Capture] = field(default_factory=list)
    location_captures: list[Capture] = field(default_factory=list)
    listening_at: float | None = None  # refused: when the port started listening
    listened_on_report: bool = False
    grace_s: float = 0.0
    received: int = 0  # requests to the route, also those beyond the recorded ones
    location_received: int = 0  # requests that followed a redirect, recorded or not

    @property
    def unrecorded(self) -> int:
        """Requests answered but not recorded (a flood beyond the capture server's cap)."""
        return self.received - len(self.captures)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def success(self) -> Capture | None:
        return next((c for c in self.captures if c.acknowledged), None)

    @property
    def reports(self) -> list[AttemptReport]:
        return self.run.reports


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a number, got {raw!r}") from None
    if not value > 0:
        raise pytest.UsageError(f"{name}: must be greater than 0, got {raw!r}")
    return value


@pytest.fixture(scope="session")
def punctual_sender(punctual_settings: Settings) -> SenderCommand:
    assert punctual_settings.sender_cmd is not None
    try:
        return SenderCommand(punctual_settings.sender_cmd)
    except ValueError as error:
        raise pytest.UsageError(f"--punctual-sender-cmd: {error}") from None


@pytest.fixture(scope="session")
def punctual_capture(pytestconfig: pytest.Config) -> Iterator[CaptureRig]:
    ca = EphemeralCA()
    with tempfile.TemporaryDirectory(prefix="punctual-sender-") as workdir, \
            CaptureServer(ca.server_context()) as main, CaptureServer(None) as plain, \
            CaptureServer(EphemeralCA().server_context()) as untrusted:
        timing = measure_timing_error(main, ca.client_context())
        rig = CaptureRig(
            ca=ca, ca_bundle=ca.write_ca_bundle(workdir), main=main, plain=plain,
            untrusted=untrusted, workdir=Path(workdir), timing=timing,
            time_scale=_env_float("PUNCTUAL_TIME_SCALE", DEFAULT_TIME_SCALE),
            bound_s=_env_float("PUNCTUAL_SCENARIO_BOUND", SCENARIO_BOUND_S),
        )
        results_of(pytestconfig).notes.append(
            f"capture server timing error: gaps accurate to {timing.gap_error_ms:.2f} ms "
            f"(max over {timing.samples} timed requests; median one-way "
            f"{timing.median_offset_ms:.2f} ms); judged with a tolerance of "
            f"{rig.slack_s * 1000:.0f} ms")
        try:
            yield rig
        finally:
            for server in rig.extra:
                server.stop()


@pytest.fixture(scope="session")
def punctual_scenarios(
    punctual_capture: CaptureRig, punctual_sender: SenderCommand, punctual_secret: Secret,
    pytestconfig: pytest.Config,
) -> dict[str, ScenarioRun]:
    """Every scenario, run once per session (the rows share the observations)."""
    started = time.monotonic()
    runs: dict[str, ScenarioRun] = {}
    together = [s for s in SCENARIOS if not s.alone]
    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="punctual-scenario") as pool:
        for run in pool.map(
            lambda s: _run_scenario(s, punctual_capture, punctual_sender, punctual_secret),
            together,
        ):
            runs[run.name] = run
    for scenario in SCENARIOS:
        if scenario.alone:
            runs[scenario.name] = _run_scenario(scenario, punctual_capture, punctual_sender,
                                                punctual_secret)
    results = results_of(pytestconfig)
    if punctual_sender.is_reference:
        results.target = ("reference sender (python "
                          f"{' '.join(punctual_sender.argv[1:])})")
    backoff = runs.get("backoff")
    if backoff is not None and len(backoff.captures) > 1:
        arrivals = [c.arrived for c in backoff.captures]
        gaps = ", ".join(f"{(b - a) * 1000:.0f}" for a, b in pairwise(arrivals[:21]))
        if len(arrivals) > 21:
            gaps += f" … ({len(arrivals) - 21} more)"
        results.notes.append(f"backoff scenario: gaps between attempts {gaps} ms "
                             f"(time scale {punctual_capture.time_scale:g})")
    results.notes.append(f"{len(runs)} sender scenarios ran in "
                         f"{time.monotonic() - started:.1f} s")
    return runs


def _run_scenario(scenario: Scenario, rig: CaptureRig, sender: SenderCommand,
                  secret: Secret) -> ScenarioRun:
    directory = rig.workdir / scenario.name
    directory.mkdir()
    if scenario.server == "refusing":
        server = CaptureServer(rig.ca.server_context(), listen_later=True)
        rig.extra.append(server)
    else:
        server = {"main": rig.main, "plain": rig.plain, "untrusted": rig.untrusted}[
            scenario.server]
    token = os.urandom(4).hex()
    route = server.add_route(f"/hooks/{scenario.name}/{token}", scenario.script)
    query = f"scenario={scenario.name}&token={token}"
    url = server.url(route, query)
    event = new_event(scenario.event_type)
    event_file = directory / "event.json"
    event_file.write_bytes(event.body)
    scale = rig.time_scale * (FAST_FACTOR if scenario.fast else 1.0)
    observed = ScenarioRun(scenario=scenario, url=url, expected_target=f"{route.path}?{query}",
                           event=event, server=server, route=route,
                           run=SenderRun(display=sender.command, started=0.0),
                           time_scale=scale)
    lock = threading.Lock()

    def open_port(on_report: bool) -> None:
        with lock:
            if server.listening:
                return
            server.begin_listening()
            observed.listening_at = time.monotonic()
            observed.listened_on_report = on_report

    def grace_over() -> bool:
        success = route.first_acknowledged()
        if success is None or success.answered is None:
            return False
        return time.monotonic() >= success.answered + _grace(route.snapshot(), success)

    launched = time.monotonic()

    def tick() -> bool:
        if (scenario.server == "refusing" and not server.listening
                and time.monotonic() - launched >= REFUSE_FALLBACK_FRACTION * rig.bound_s):
            open_port(on_report=False)
        return grace_over()

    observed.run = sender.run(
        endpoint_url=url, event_file=event_file, secret=secret.reveal(),
        ca_bundle=rig.ca_bundle, time_scale=scale, bound_s=rig.bound_s,
        extra_env={"PUNCTUAL_SENDER_DB": str(directory / "history.sqlite3")},
        on_report=(lambda report: open_port(on_report=True))
        if scenario.server == "refusing" else None,
        stop_when=tick,
    )
    # Keep watching for the grace period after a 2xx, also when the sender has exited.
    success = route.first_acknowledged()
    if success is not None and success.answered is not None:
        grace = _grace(route.snapshot(), success)
        observed.grace_s = grace
        wait = success.answered + grace - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, rig.bound_s))
    route.release()
    observed.captures = route.snapshot()
    observed.received = max(route.received, len(observed.captures))
    location = server.location_route(route)
    observed.location_captures = location.snapshot()
    observed.location_received = max(location.received, len(observed.location_captures))
    return observed


def _grace(captures: list[Capture], success: Capture) -> float:
    before = [c.arrived for c in captures if c.index <= success.index]
    gaps = [b - a for a, b in pairwise(before)]
    return max(MIN_GRACE_S, 3 * max(gaps, default=0.0))


@pytest.fixture
def punctual_evidence(request: pytest.FixtureRequest) -> list[Exchange]:
    evidence: list[Exchange] = []
    request.node.stash[EVIDENCE_KEY] = evidence
    return evidence


def event_file_envelope(run: ScenarioRun) -> dict[str, Any]:
    """The envelope the scenario handed to the sender."""
    value = json.loads(run.event.body)
    assert isinstance(value, dict)
    return value
