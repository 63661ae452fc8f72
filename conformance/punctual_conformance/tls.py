"""An ephemeral test PKI: a throw-away CA (made with trustme) and the TLS contexts around it.

The reference receiver and the suite's capture server use it so that everything runs over real,
verified HTTPS without touching the system trust store::

    ca = EphemeralCA()
    server_ctx = ca.server_context()              # presents a cert for 127.0.0.1 and localhost
    bundle = ca.write_ca_bundle(some_directory)   # give this path to clients (SSL_CERT_FILE, ...)
    client_ctx = ca.client_context()              # trusts only this CA

Both contexts refuse protocol versions below TLS 1.2.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable
from pathlib import Path

import trustme

__all__ = ["CA_BUNDLE_NAME", "DEFAULT_IDENTITIES", "EphemeralCA"]

DEFAULT_IDENTITIES: tuple[str, ...] = ("127.0.0.1", "localhost")
CA_BUNDLE_NAME = "punctual-test-ca.pem"


class EphemeralCA:
    """A fresh CA with one server certificate for ``identities`` (host names or IP addresses)."""

    def __init__(self, identities: Iterable[str] = DEFAULT_IDENTITIES) -> None:
        self.identities: tuple[str, ...] = tuple(dict.fromkeys(identities))
        if not self.identities:
            raise ValueError("at least one identity (host name or IP address) is needed")
        self._ca = trustme.CA(organization_name="Punctual conformance test CA")
        self._leaf = self._ca.issue_cert(*self.identities)

    def __repr__(self) -> str:
        return f"EphemeralCA(identities={self.identities!r})"

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate, PEM encoded."""
        return bytes(self._ca.cert_pem.bytes())

    def server_context(self) -> ssl.SSLContext:
        """A server context presenting the issued certificate; TLS 1.2 minimum; ALPN http/1.1."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        self._leaf.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only, verifies host names; TLS 1.2 minimum."""
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def write_ca_bundle(self, directory: str | os.PathLike[str]) -> Path:
        """Write the CA certificate as a PEM bundle into ``directory``; return the file's path."""
        path = Path(directory) / CA_BUNDLE_NAME
        path.write_bytes(self.ca_pem)
        return path
