"""The suite's checks, one module per requirement area, one folder per mode.

Each check is a pytest test declared with :func:`check`, which gives it the requirement id as
its test id (``signature.py::test_missing_signature_is_rejected[RCV-SIG-01]``), so
``-k RCV-SIG`` selects the signature rows and JUnit XML names them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pytest

from punctual_conformance.catalogue import requirement

__all__ = ["check"]

F = TypeVar("F", bound=Callable[..., Any])


def check(requirement_id: str, cases: Mapping[str, Any] | None = None) -> Callable[[F], F]:
    """Declare a check of ``requirement_id``; ``cases`` become ``RCV-…-<case>`` test ids,
    each passed to the check as its ``case`` argument."""
    requirement(requirement_id)  # an unknown id fails at import, not at report time

    def decorate(function: F) -> F:
        marked = pytest.mark.punctual(requirement_id)(function)
        if cases is None:
            return pytest.mark.parametrize((), [()], ids=[requirement_id])(marked)  # type: ignore[no-any-return]
        return pytest.mark.parametrize(  # type: ignore[no-any-return]
            "case", list(cases.values()), ids=[f"{requirement_id}-{name}" for name in cases]
        )(marked)

    return decorate
