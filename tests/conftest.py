"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from punctual_conformance.capture_server import CaptureServer
from punctual_conformance.tls import EphemeralCA

# tests/ is not a package: its helper modules (toolchains, suite_runner, …) import by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="module")
def ca() -> EphemeralCA:
    """An ephemeral CA for a test module's TLS servers and clients."""
    return EphemeralCA()


@pytest.fixture
def server(ca: EphemeralCA) -> Iterator[CaptureServer]:
    """A running HTTPS capture server (the suite's receiving end in sender mode)."""
    with CaptureServer(ca.server_context()) as running:
        yield running
