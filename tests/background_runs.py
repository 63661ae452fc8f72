"""Start a module's slow suite runs in the background, two at a time, as soon as the module's
first test asks for them; each test then waits only for its own run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

PARALLEL_RUNS = 2  # the machine has 2 cores; more would judge timing under self-made load

T = TypeVar("T")


def selected(request: pytest.FixtureRequest, param: str) -> list[str]:
    """The values of parameter ``param`` of this module's selected tests, in order."""
    names = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.path == request.path and callspec is not None and param in callspec.params:
            names.append(str(callspec.params[param]))
    return list(dict.fromkeys(names))


@contextmanager
def background_runs(
    jobs: dict[str, Callable[[Path], T]], tmp_path_factory: pytest.TempPathFactory,
    prefix: str,
) -> Iterator[dict[str, Future[T]]]:
    """Submit ``jobs`` (name → function of a fresh folder); yield their futures by name."""
    pool = ThreadPoolExecutor(PARALLEL_RUNS, thread_name_prefix=prefix)
    try:
        yield {name: pool.submit(job, tmp_path_factory.mktemp(name))
               for name, job in jobs.items()}
    finally:  # after a -x stop, the runs not yet started are dropped
        pool.shutdown(wait=True, cancel_futures=True)
