"""Where the language-neutral contract files (``schemas/``) live.

In an installed wheel they are package data (``punctual_conformance/schemas``); in a source
checkout they are the top-level ``schemas/`` folder beside ``conformance/``.
"""

from __future__ import annotations

import functools
from pathlib import Path

__all__ = ["schemas_dir"]

_PACKAGE_DIR = Path(__file__).resolve().parent


@functools.cache
def schemas_dir() -> Path:
    """Return the folder holding the JSON Schemas and the signing test vectors."""
    for candidate in (_PACKAGE_DIR / "schemas", _PACKAGE_DIR.parent.parent / "schemas"):
        if (candidate / "envelope.schema.json").is_file():
            return candidate
    raise FileNotFoundError(
        "punctual_conformance cannot find its schemas/ folder; reinstall the package"
    )
