"""HMAC-SHA256 signing of the exact request body, as the Punctual product page specifies.

The signature is the lowercase hex HMAC-SHA256 of the raw body bytes, keyed with the UTF-8
bytes of the webhook secret, sent in the ``Punctual-Signature`` header.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "Punctual-Signature"

# A hex SHA-256 digest is 64 characters; anything longer is rejected before any work is done,
# so a huge header costs nothing.
_DIGEST_LENGTH = 64


def sign(secret: str, body: bytes) -> str:
    """Return the lowercase hex HMAC-SHA256 of ``body`` keyed with the UTF-8 ``secret``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header_value: object) -> bool:
    """Tell whether ``header_value`` is the valid signature of ``body``.

    Compares in constant time over the raw bytes and never raises: ``None``, empty, non-ASCII,
    non-string or oversized header values simply return ``False``.
    """
    if isinstance(header_value, bytes):
        try:
            header_value = header_value.decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(header_value, str) or len(header_value) != _DIGEST_LENGTH:
        return False
    if not header_value.isascii():
        return False
    return hmac.compare_digest(sign(secret, body), header_value)
