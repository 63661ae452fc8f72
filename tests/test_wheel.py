"""The installed wheel is self-sufficient: it carries the schemas and the test vectors, and
its pytest plugin runs from a fresh virtual environment, outside this checkout."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=INSTALL_TIMEOUT_S,
    )
    (built,) = out.glob("punctual_conformance-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("fresh-venv")
    venv.create(env_dir, with_pip=True, clear=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=INSTALL_TIMEOUT_S)
    return python


def test_wheel_carries_schemas_vectors_and_entry_point(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        entry_text = archive.read(entry_points).decode()
    assert "punctual_conformance/schemas/envelope.schema.json" in names
    assert "punctual_conformance/schemas/signing-vectors.json" in names
    assert "punctual_conformance/schemas/booking.created.schema.json" in names
    assert "punctual_conformance/py.typed" in names
    assert "punctual_conformance/templates/report.html.j2" in names
    assert "punctual = punctual_conformance.plugin" in entry_text


def test_installed_package_works_from_the_fresh_environment(fresh_python: Path,
                                                           tmp_path: Path) -> None:
    script = (
        "import punctual_conformance as p, punctual_conformance.resources as r\n"
        "from punctual_conformance.vectors import load_vectors\n"
        "from punctual_conformance.schemas import validate_event\n"
        "from punctual_conformance.events import example_event\n"
        "print(p.__file__); print(r.schemas_dir())\n"
        "validate_event(example_event('booking.created'))\n"
        "print(len(load_vectors()))\n"
    )
    done = subprocess.run([str(fresh_python), "-c", script], cwd=tmp_path, check=True,
                          capture_output=True, text=True, timeout=60)
    package_file, schemas, count = done.stdout.split()
    prefix = str(fresh_python.parent.parent)
    assert package_file.startswith(prefix) and schemas.startswith(prefix)
    assert int(count) >= 30


def test_plugin_runs_from_the_fresh_environment(fresh_python: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(fresh_python), "-m", "pytest", "-p", "no:cacheprovider", "--punctual-target",
         "reference", "-k", "RCV-SIG-01 or RCV-ACK-01"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout
