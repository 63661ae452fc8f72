"""Every routine task of the project is a nox session: ``nox -l`` lists them."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PACKAGE = "conformance/punctual_conformance"


@nox.session
def tests(session: nox.Session) -> None:
    """The project's own tests (the README's test command)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the package, the tests and this file."""
    session.install("ruff")
    session.run("ruff", "check", "conformance", "tests", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[test]")
    session.run("mypy")


@nox.session
def conformance(session: nox.Session) -> None:
    """The main job: the suite against the bundled reference receiver, with both reports."""
    session.install("-e", ".")
    session.run(
        "python", "-m", "pytest", "--punctual-target", "reference",
        "--punctual-report", "punctual-report.html",
        "--punctual-report-json", "punctual-report.json", *session.posargs,
    )


@nox.session
def reports(session: nox.Session) -> None:
    """Regenerate the example reports in reports/: the reference receiver and sender, and the
    product page's three receivers (needs node with `npm install --prefix tests/node`, php)."""
    session.install("-e", ".[test]")
    env = {"PUNCTUAL_WEBHOOK_SECRET": "example-reports-secret"}
    for mode, target, name in (("--punctual-target", "reference", "reference-receiver"),
                               ("--punctual-sender-cmd", "reference", "reference-sender")):
        session.run("python", "-m", "pytest", "-p", "no:cacheprovider", "-q", mode, target,
                    "--punctual-report", f"reports/{name}.html",
                    "--punctual-report-json", f"reports/{name}.json", env=env)
    session.run("python", "-m", "pytest", "-q", "tests/test_seed_receivers.py",
                env={"PUNCTUAL_EXAMPLE_REPORTS": "reports", "CI": "true"})


@nox.session
def bench(session: nox.Session) -> None:
    """Print benchmark figures: a full receiver run against an httpx floor, verify() against
    bare HMAC and the standardwebhooks library, the reference sender, peak memory."""
    session.install("-e", ".[test]", "standardwebhooks")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate the README's requirement tables from the catalogue."""
    session.install("-e", ".")
    session.run("python", "-c", (
        "import re, pathlib\n"
        "from punctual_conformance.catalogue import Mode, markdown_table\n"
        "p = pathlib.Path('README.md'); text = p.read_text()\n"
        "for m in Mode:\n"
        "    start, end = f'<!-- requirements:{m.value}:start -->', "
        "f'<!-- requirements:{m.value}:end -->'\n"
        "    text = re.sub(re.escape(start) + '.*?' + re.escape(end), "
        "lambda _: start + '\\n' + markdown_table(m) + '\\n' + end, text, flags=re.S)\n"
        "p.write_text(text)\n"
    ))
