"""Shared fixtures of the project's own tests."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/ is not a package: its helper modules (toolchains, suite_runner, …) import by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
