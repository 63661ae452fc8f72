"""Locate the external toolchains (node, php, chromium, ...) that some tests drive.

A missing executable skips the test with a clear reason on a developer machine, but fails it
when the environment variable ``CI`` is ``"true"``: in CI a silently skipped cross-language
check would look like a pass.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

__all__ = ["in_ci", "require_executable"]


def in_ci() -> bool:
    """Tell whether the tests run in CI (``CI=true``, as GitHub Actions and most CIs set it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def require_executable(name: str, why: str) -> str:
    """Return the full path of executable ``name``; skip (locally) or fail (in CI) without it.

    ``why`` says what the executable is needed for; it goes into the skip or failure message.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    skip_or_fail(f"{name!r} not found on PATH; needed for {why}")


def skip_or_fail(message: str) -> NoReturn:
    """Skip with ``message`` locally; fail under CI=true, where every toolchain must be there."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: missing toolchains fail instead of skipping)")
    pytest.skip(message)
