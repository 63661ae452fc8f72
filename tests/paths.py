"""Where the project's tests find things: the checkout, and shared/ beside it (as CI lays it)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
