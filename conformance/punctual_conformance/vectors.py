"""Language-neutral signing test vectors (``schemas/signing-vectors.json``) as Python objects.

The JSON file is the contract; its format is described by ``signing-vectors.schema.json``.
This module decodes it: hex and repeated bodies become ``bytes``, repeated headers become
one string, a missing header becomes ``None``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from punctual_conformance.resources import schemas_dir

__all__ = ["VECTORS_FILE", "VECTORS_VERSION", "SigningVector", "load_vectors", "vectors_path"]

VECTORS_FILE = "signing-vectors.json"
# The version of signing-vectors.json this module was written for (major = format version).
VECTORS_VERSION = "1.0.0"


@dataclass(frozen=True)
class SigningVector:
    """One signing test vector: does ``header`` verify for ``body`` under ``secret``?"""

    name: str
    # Bodies and headers can be 64 KiB: keep them out of reprs and assertion messages.
    description: str = field(repr=False)
    secret: str
    body: bytes = field(repr=False)
    header: str | None = field(repr=False)
    signature: str
    valid: bool


def vectors_path() -> Path:
    """Return the path of the signing vectors JSON file."""
    return schemas_dir() / VECTORS_FILE


def _body(raw: dict[str, Any]) -> bytes:
    if "body_hex" in raw:
        body = bytes.fromhex(raw["body_hex"])
    else:
        repeat = raw["body_repeat"]
        body = bytes.fromhex(repeat["unit_hex"]) * int(repeat["times"])
    if len(body) != raw["body_length"]:
        raise ValueError(f"vector {raw['name']!r}: body is {len(body)} bytes, not body_length")
    return body


def _header(raw: dict[str, Any]) -> str | None:
    if "header_repeat" in raw:
        repeat = raw["header_repeat"]
        return str(repeat["unit"]) * int(repeat["times"])
    header = raw["header"]
    return None if header is None else str(header)


def _vector(raw: dict[str, Any]) -> SigningVector:
    secret = str(raw["secret"])
    try:
        secret.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate escaped in the JSON
        raise ValueError(f"vector {raw['name']!r}: secret is not encodable as UTF-8") from exc
    return SigningVector(
        name=str(raw["name"]),
        description=str(raw["description"]),
        secret=secret,
        body=_body(raw),
        header=_header(raw),
        signature=str(raw["signature"]),
        valid=bool(raw["valid"]),
    )


def load_vectors(path: Path | None = None) -> list[SigningVector]:
    """Load and decode the signing vectors, in file order.

    Raises ``ValueError`` when the file's major version is not the one this module reads.
    """
    document = json.loads((path or vectors_path()).read_text(encoding="utf-8"))
    version = str(document["version"])
    if version.split(".")[0] != VECTORS_VERSION.split(".")[0]:
        raise ValueError(f"signing vectors version {version} is not {VECTORS_VERSION} compatible")
    return [_vector(raw) for raw in document["vectors"]]
