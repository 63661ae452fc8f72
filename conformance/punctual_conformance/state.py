"""Where the plugin keeps its per-run state: ``config.stash`` and ``item.stash`` keys."""

from __future__ import annotations

from typing import Any

import pytest

from punctual_conformance.evidence import Exchange
from punctual_conformance.results import RunResults
from punctual_conformance.settings import Settings

__all__ = ["EVIDENCE_KEY", "FACTS_KEY", "RESULTS_KEY", "SETTINGS_KEY", "results_of"]

SETTINGS_KEY = pytest.StashKey[Settings]()
RESULTS_KEY = pytest.StashKey[RunResults]()
EVIDENCE_KEY = pytest.StashKey[list[Exchange]]()
FACTS_KEY = pytest.StashKey[dict[str, Any]]()


def results_of(config: pytest.Config) -> RunResults:
    return config.stash[RESULTS_KEY]
