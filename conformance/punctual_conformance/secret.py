"""The webhook secret, wrapped so that it cannot leak through a repr, a log line or a report."""

from __future__ import annotations

import os
import secrets

__all__ = ["SECRET_ENV", "MissingSecret", "Secret"]

SECRET_ENV = "PUNCTUAL_WEBHOOK_SECRET"  # noqa: S105 (the variable's name, not a secret)


class MissingSecret(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            f"the webhook secret is read from the environment variable {SECRET_ENV}, "
            "which is not set (or empty)"
        )


class Secret:
    """Holds the secret; ``str()``/``repr()`` never show it, only ``reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise MissingSecret()
        self._value = value

    @classmethod
    def from_environment(cls) -> Secret:
        return cls(os.environ.get(SECRET_ENV, ""))

    @classmethod
    def ephemeral(cls) -> Secret:
        """A fresh random secret for runs where the suite owns both ends."""
        return cls("whsec_" + secrets.token_urlsafe(24))

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """Replace every occurrence of the secret in ``text``."""
        return text.replace(self._value, "[secret redacted]")

    def __repr__(self) -> str:
        return "Secret('[redacted]')"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:  # pickling would carry it off unseen
        raise TypeError("Secret cannot be pickled")
