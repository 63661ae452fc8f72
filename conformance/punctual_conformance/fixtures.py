"""Fixtures of the suite's own checks (registered only when a punctual mode is active).

| fixture | scope | type | what |
|---|---|---|---|
| ``punctual_settings`` | session | ``Settings`` | resolved options |
| ``punctual_secret`` | session | ``Secret`` | the webhook secret (never printed) |
| ``punctual_target`` | session | ``Target`` | URL, CA bundle and observer of the receiver |
| ``punctual_tls`` | session | ``TlsProbe`` | whether the target's certificate verifies |
| ``punctual_client`` | function | ``TargetClient`` | sends deliveries, records evidence |
| ``punctual_processed_count`` | session | ``Callable[[str], int] | None`` | the observer |

Override ``punctual_processed_count`` in your conftest.py to count side effects yourself.
| ``punctual_valid_deliveries`` | function | ``list[Exchange]`` | valid deliveries made so far |
| ``punctual_facts`` | function | ``dict`` | figures a check reports (latency percentiles …) |
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from punctual_conformance.client import TargetClient, client_ssl_context
from punctual_conformance.evidence import Exchange
from punctual_conformance.observer import ObserverClient
from punctual_conformance.secret import Secret
from punctual_conformance.settings import REFERENCE, Settings
from punctual_conformance.state import EVIDENCE_KEY, FACTS_KEY, SETTINGS_KEY, results_of

__all__ = ["Target", "TlsProbe"]


@dataclass(frozen=True)
class Target:
    url: str
    ca_bundle: Path | None
    observer: str | None

    @property
    def is_https(self) -> bool:
        return urlsplit(self.url).scheme == "https"


@dataclass(frozen=True)
class TlsProbe:
    """Outcome of one verifying request made before the checks (the RCV-TLS-02 evidence)."""

    exchange: Exchange | None

    @property
    def error(self) -> str | None:
        return None if self.exchange is None else self.exchange.error

    @property
    def verified(self) -> bool:
        """The certificate verified (an HTTP answer came back over verified TLS)."""
        return self.exchange is not None and self.exchange.status is not None

    @property
    def certificate_rejected(self) -> bool:
        return self.error is not None and self.error.startswith("TLS")


@pytest.fixture(scope="session")
def punctual_settings(pytestconfig: pytest.Config) -> Settings:
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def punctual_secret(punctual_settings: Settings) -> Secret:
    assert punctual_settings.secret is not None
    return punctual_settings.secret


@pytest.fixture(scope="session")
def punctual_target(
    punctual_settings: Settings, punctual_secret: Secret, pytestconfig: pytest.Config
) -> Iterator[Target]:
    if punctual_settings.target != REFERENCE:
        assert punctual_settings.target is not None
        yield Target(punctual_settings.target, punctual_settings.ca_bundle,
                     punctual_settings.observer)
        return
    from punctual_conformance.reference_receiver import ReferenceReceiver

    with tempfile.TemporaryDirectory(prefix="punctual-reference-") as workdir, \
            ReferenceReceiver(punctual_secret.reveal(),
                              db_path=Path(workdir) / "events.sqlite3") as receiver:
        results_of(pytestconfig).target = f"reference receiver at {receiver.url}"
        yield Target(receiver.url, receiver.ca_bundle,
                     punctual_settings.observer or receiver.observer_url)


@pytest.fixture(scope="session")
def punctual_tls(punctual_target: Target, punctual_secret: Secret,
                 punctual_settings: Settings, pytestconfig: pytest.Config) -> TlsProbe:
    """Probe the certificate once; if it fails, the other rows still run (unverified TLS)
    so the report shows the whole picture, and RCV-TLS-02 carries the failure."""
    context = client_ssl_context(punctual_target.ca_bundle)
    with TargetClient(punctual_target.url, punctual_secret, ssl_context=context,
                      timeout=punctual_settings.request_timeout) as probe:
        exchange = probe.request("HEAD", label="probe (certificate verified)")
    if exchange.status is None and not exchange.error.startswith("TLS"):  # type: ignore[union-attr]
        results_of(pytestconfig).notes.append(
            f"The target did not answer the first request: {exchange.error}"
        )
    return TlsProbe(exchange=exchange if punctual_target.is_https else None)


@pytest.fixture(scope="session")
def _punctual_session_client(
    punctual_target: Target, punctual_secret: Secret, punctual_settings: Settings,
    punctual_tls: TlsProbe,
) -> Iterator[TargetClient]:
    context = client_ssl_context(punctual_target.ca_bundle,
                                 verify=not punctual_tls.certificate_rejected)
    with TargetClient(punctual_target.url, punctual_secret, ssl_context=context,
                      timeout=punctual_settings.request_timeout) as client:
        yield client


@pytest.fixture
def punctual_client(
    _punctual_session_client: TargetClient, request: pytest.FixtureRequest
) -> TargetClient:
    """The session's client, recording into this check's evidence."""
    recorder: list[Exchange] = []
    request.node.stash[EVIDENCE_KEY] = recorder
    _punctual_session_client.recorder = recorder
    return _punctual_session_client


@pytest.fixture
def punctual_valid_deliveries(_punctual_session_client: TargetClient) -> list[Exchange]:
    """Every correctly signed, valid delivery made so far in this run (RCV-ACK-02/03)."""
    return [exchange for exchange in _punctual_session_client.history if exchange.valid]


@pytest.fixture
def punctual_facts(request: pytest.FixtureRequest) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    request.node.stash[FACTS_KEY] = facts
    return facts


@pytest.fixture(scope="session")
def punctual_processed_count(
    punctual_target: Target, punctual_settings: Settings, punctual_tls: TlsProbe
) -> Iterator[Callable[[str], int] | None]:
    """How many times the receiver processed an event id, or None without an observer.

    Override in your conftest.py to return your own ``Callable[[str], int]``.
    """
    if punctual_target.observer is None:
        yield None
        return
    verify = client_ssl_context(punctual_target.ca_bundle,
                                verify=not punctual_tls.certificate_rejected)
    observer = ObserverClient(punctual_target.observer, verify=verify,
                              timeout=punctual_settings.request_timeout)
    yield observer.processed_count
    observer.close()
