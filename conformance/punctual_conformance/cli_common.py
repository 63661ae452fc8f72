"""Pieces shared by the ``punctual`` subcommands: the error type, the secret, output."""

from __future__ import annotations

import sys

from punctual_conformance.secret import MissingSecret, Secret

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "CliError", "emit", "secret_from_environment"]

EXIT_OK = 0
EXIT_FAILED = 1  # the answer was "no": a non-2xx status, an invalid signature
EXIT_USAGE = 2  # bad input, or the command could not do its job (nothing delivered)


class CliError(Exception):
    """A problem the user can fix: printed as one line (no traceback), exit status 2."""


def secret_from_environment() -> Secret:
    """The webhook secret from ``PUNCTUAL_WEBHOOK_SECRET`` (never from an argument)."""
    try:
        return Secret.from_environment()
    except MissingSecret as missing:
        raise CliError(str(missing)) from None


def emit(text: str) -> None:
    """Write ``text`` to stdout as UTF-8, whatever the locale's encoding."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # pragma: no cover - a replaced stdout without a byte buffer
        sys.stdout.write(text)
    else:
        buffer.write(text.encode("utf-8"))
        buffer.flush()
