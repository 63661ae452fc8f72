"""The webhook secret, wrapped so that it cannot leak through a repr, a log line or a report."""

from __future__ import annotations

import html
import json
import os
import secrets
import urllib.parse

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
        """Replace every occurrence of the secret in ``text``, also in the encodings a target
        may echo it in (JSON-escaped, HTML-escaped, percent-encoded)."""
        for form in self._forms():
            text = text.replace(form, "[secret redacted]")
        return text

    def _forms(self) -> list[str]:
        value = self._value
        forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
                 html.escape(value), urllib.parse.quote(value), urllib.parse.quote_plus(value)}
        return sorted(forms, key=len, reverse=True)

    def __repr__(self) -> str:
        return "Secret('[redacted]')"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:  # pickling would carry it off unseen
        raise TypeError("Secret cannot be pickled")
