"""How a check ends: passed, failed with Expected/Observed, not verified, or skipped."""

from __future__ import annotations

from enum import Enum
from typing import NoReturn

import pytest

__all__ = ["NotVerified", "Outcome", "RequirementFailed", "expect", "fail", "not_verified"]


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_VERIFIED = "not-verified"
    SKIPPED = "skipped"


class RequirementFailed(AssertionError):
    """A target broke a requirement; the message says what was expected and observed."""

    def __init__(self, expected: str, observed: str, detail: str = "") -> None:
        self.expected = expected
        self.observed = observed
        self.detail = detail
        message = f"Expected: {expected}\nObserved: {observed}"
        if detail:
            message += f"\n{detail}"
        super().__init__(message)


class NotVerified(pytest.skip.Exception):  # type: ignore[misc,name-defined]
    """The suite could not tell either way; reported as 'not verified', never as passed."""


def fail(expected: str, observed: str, detail: str = "") -> NoReturn:
    __tracebackhide__ = True
    raise RequirementFailed(expected, observed, detail)


def expect(condition: bool, expected: str, observed: str, detail: str = "") -> None:
    __tracebackhide__ = True
    if not condition:
        raise RequirementFailed(expected, observed, detail)


def not_verified(reason: str) -> NoReturn:
    __tracebackhide__ = True
    raise NotVerified(msg=f"not verified: {reason}", allow_module_level=False)
