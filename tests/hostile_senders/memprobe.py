"""A pytest plugin (``-p hostile_senders.memprobe``) that writes the suite process's own peak
resident memory (``VmHWM`` of ``/proc/self/status``, in KiB) to ``$HOSTILE_MEMPROBE`` when the
session ends, after the reports are written. The senders it runs are not counted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    target = os.environ.get("HOSTILE_MEMPROBE")
    if target:
        Path(target).write_text(str(peak_rss_kib()), encoding="ascii")
