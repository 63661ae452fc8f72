"""The language-neutral signing vectors: their format, their content, and that Python,
Node's crypto and PHP's hash_hmac/hash_equals all agree with every one of them."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from punctual_conformance.resources import schemas_dir
from punctual_conformance.signing import SIGNATURE_HEADER, sign, verify
from punctual_conformance.vectors import (
    VECTORS_VERSION,
    SigningVector,
    load_vectors,
    vectors_path,
)
from toolchains import require_executable

CROSSLANG = Path(__file__).resolve().parent / "crosslang"
GITHUB_DIGEST = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
VECTORS = load_vectors()


def _document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(vectors_path().read_text(encoding="utf-8"))
    return data


def _validator() -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "signing-vectors.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# ---- format -------------------------------------------------------------------------------


def test_file_is_valid_against_its_schema() -> None:
    errors = sorted(_validator().iter_errors(_document()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda v: v.update(body_repeat={"unit_hex": "61", "times": 1}), "two bodies"),
        (lambda v: v.pop("body_hex"), "no body"),
        (lambda v: v.pop("header"), "no header"),
        (lambda v: v.update(header_repeat={"unit": "a", "times": 2}), "two headers"),
        (lambda v: v.update(signature=v["signature"].upper()), "uppercase signature"),
        (lambda v: v.update(body_hex="ABC"), "bad hex"),
        (lambda v: v.update(extra=1), "unknown field"),
    ],
    ids=lambda p: p if isinstance(p, str) else "",
)
def test_schema_rejects_malformed_vectors(change: Any, why: str) -> None:
    document = copy.deepcopy(_document())
    change(document["vectors"][0])
    assert not _validator().is_valid(document), f"schema accepted a vector with {why}"


def test_version_and_scheme() -> None:
    document = _document()
    assert document["version"] == VECTORS_VERSION
    assert document["scheme"]["header"] == SIGNATURE_HEADER


def test_names_unique_and_enough_vectors() -> None:
    names = [v.name for v in VECTORS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert len(VECTORS) >= 30


def test_both_outcomes_present() -> None:
    assert any(v.valid for v in VECTORS)
    assert any(not v.valid for v in VECTORS)
    assert any(v.header is None for v in VECTORS), "a missing-header vector is expected"


def test_github_known_answer_present() -> None:
    matches = [
        v
        for v in VECTORS
        if v.secret == "It's a Secret to Everybody" and v.body == b"Hello, World!" and v.valid
    ]
    assert matches, "GitHub's published known-answer vector is missing"
    assert all(v.signature == GITHUB_DIGEST == v.header for v in matches)
    assert all("docs.github.com" in v.description for v in matches)


def test_body_text_matches_body_hex() -> None:
    for raw, vector in zip(_document()["vectors"], VECTORS, strict=True):
        assert len(vector.body) == raw["body_length"], vector.name
        if "body_text" in raw:
            assert raw["body_text"].encode("utf-8") == vector.body, vector.name


def test_vectors_cover_the_required_cases() -> None:
    bodies = [v.body for v in VECTORS if v.valid]
    assert b"" in bodies
    assert any(len(b) >= 64 * 1024 for b in bodies)
    assert any(not v.secret.isascii() for v in VECTORS if v.valid)
    assert any(not b.isascii() and _is_utf8(b) for b in bodies)
    assert any(not _is_utf8(b) for b in bodies)
    headers = [v.header for v in VECTORS if not v.valid]
    assert "" in headers
    assert any(h is not None and len(h) > 8192 for h in headers)
    assert any(h is not None and not h.isascii() for h in headers)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---- Python ------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_python_sign_and_verify_agree(vector: SigningVector) -> None:
    assert sign(vector.secret, vector.body) == vector.signature
    assert verify(vector.secret, vector.body, vector.header) is vector.valid
    if vector.header is not None:  # the same header as raw bytes, as some servers hand it over
        header_bytes = vector.header.encode("utf-8")
        assert verify(vector.secret, vector.body, header_bytes) is vector.valid


# ---- independent implementations -----------------------------------------------------------


def _run_crosslang(command: list[str]) -> dict[str, dict[str, Any]]:
    result = subprocess.run(
        [*command, str(vectors_path())],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stderr}"
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_name = {row["name"]: row for row in rows}
    assert len(by_name) == len(rows), "duplicate result lines"
    return by_name


def _mismatches(results: dict[str, dict[str, Any]], accepted_keys: tuple[str, ...]) -> list[str]:
    problems = []
    for vector in VECTORS:
        row = results.get(vector.name)
        if row is None:
            problems.append(f"{vector.name}: no result")
            continue
        if row["signature"] != vector.signature:
            problems.append(f"{vector.name}: signature {row['signature']} != {vector.signature}")
        if row["body_length"] != len(vector.body):
            problems.append(f"{vector.name}: body decoded to {row['body_length']} bytes")
        for key in accepted_keys:
            if row[key] is not vector.valid:
                problems.append(f"{vector.name}: {key}={row[key]}, expected {vector.valid}")
    problems.extend(
        f"{name}: unknown vector" for name in results.keys() - {v.name for v in VECTORS}
    )
    return problems


def test_node_crypto_agrees_with_every_vector() -> None:
    node = require_executable("node", "checking the signing vectors with Node's crypto")
    results = _run_crosslang([node, str(CROSSLANG / "verify_vectors.js")])
    problems = _mismatches(results, ("accepted", "accepted_seed_style"))
    assert not problems, "Node disagrees with the vectors:\n" + "\n".join(problems)


def test_php_hash_hmac_agrees_with_every_vector() -> None:
    php = require_executable("php", "checking the signing vectors with PHP's hash_hmac")
    results = _run_crosslang([php, str(CROSSLANG / "verify_vectors.php")])
    problems = _mismatches(results, ("accepted",))
    assert not problems, "PHP disagrees with the vectors:\n" + "\n".join(problems)
