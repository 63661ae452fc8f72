"""The catalogue is the single source: the README's tables come from it, every profile id is
in it, and every requirement is checked in the module its area names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from punctual_conformance.catalogue import (
    REQUIREMENTS,
    Mode,
    Requirement,
    markdown_table,
)

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ROOT / "conformance" / "punctual_conformance" / "checks"
PROFILE = ROOT.parent / "shared" / "punctual-v1-profile.md"


@pytest.mark.parametrize("mode", list(Mode), ids=lambda m: m.value)
def test_readme_tables_are_generated_from_the_catalogue(mode: Mode) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(
        rf"<!-- requirements:{mode.value}:start -->\n(.*?)\n<!-- requirements:{mode.value}:end -->",
        readme, re.S,
    )
    assert block is not None
    assert block.group(1) == markdown_table(mode), (
        "README table out of date: regenerate it with `nox -s docs`"
    )


@pytest.mark.skipif(not PROFILE.exists(), reason="the shared profile is not beside this clone")
def test_every_profile_requirement_is_catalogued() -> None:
    ids = set(re.findall(r"\b(?:RCV|SND)-[A-Z]+-\d{2}\b", PROFILE.read_text(encoding="utf-8")))
    assert ids == set(REQUIREMENTS)


@pytest.mark.parametrize("requirement", list(REQUIREMENTS.values()), ids=lambda r: r.id)
def test_requirement_is_checked_in_its_area_module(requirement: Requirement) -> None:
    module = CHECKS / requirement.mode.value / f"{requirement.area}.py"
    assert module.is_file(), f"{requirement.id}: no module {module.relative_to(ROOT)}"
    assert f'@check("{requirement.id}"' in module.read_text(encoding="utf-8")
