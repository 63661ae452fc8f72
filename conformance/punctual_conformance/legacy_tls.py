"""Offering TLS 1.0/1.1 to a server (RCV-TLS-03), honestly.

OpenSSL 3 refuses old protocol versions unless the security level is lowered
(``@SECLEVEL=0``), and some builds cannot offer them at all. Before judging a target, the
suite proves it can offer TLS 1.1 by handshaking with a local server that accepts it; if it
cannot, the row is *not verified*, never passed.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import threading
import warnings
from dataclasses import dataclass
from enum import Enum

__all__ = ["LegacyOutcome", "LegacyProbe", "client_can_offer_legacy_tls", "probe_legacy_tls"]


class LegacyOutcome(str, Enum):
    REFUSED = "refused"
    ACCEPTED = "accepted"
    CANNOT_OFFER = "cannot-offer"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class LegacyProbe:
    outcome: LegacyOutcome
    detail: str


def _legacy_context(server: bool) -> ssl.SSLContext:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if not server:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _handshake(host: str, port: int, timeout: float) -> LegacyProbe:
    try:
        context = _legacy_context(server=False)
    except (ValueError, ssl.SSLError) as error:
        return LegacyProbe(LegacyOutcome.CANNOT_OFFER, f"client context: {error}")
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as error:
        return LegacyProbe(LegacyOutcome.UNREACHABLE, f"cannot connect: {error}")
    with raw:
        try:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                return LegacyProbe(LegacyOutcome.ACCEPTED,
                                  f"handshake completed with {tls.version()}")
        except ssl.SSLError as error:
            return LegacyProbe(LegacyOutcome.REFUSED, f"handshake refused: {error.reason or error}")
        except TimeoutError:
            return LegacyProbe(LegacyOutcome.UNREACHABLE,
                               f"no answer to the handshake within {timeout:g} s")
        except OSError as error:
            return LegacyProbe(LegacyOutcome.REFUSED,
                              f"connection closed during handshake: {error}")


@functools.cache
def client_can_offer_legacy_tls() -> LegacyProbe:
    """Handshake TLS 1.1 with a throw-away local server that accepts it."""
    import trustme

    ca = trustme.CA()
    try:
        server_context = _legacy_context(server=True)
        ca.issue_cert("127.0.0.1").configure_cert(server_context)
    except (ValueError, ssl.SSLError) as error:
        return LegacyProbe(LegacyOutcome.CANNOT_OFFER, f"server context: {error}")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(5)
            with contextlib.suppress(ssl.SSLError, OSError):
                server_context.wrap_socket(connection, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        probe = _handshake("127.0.0.1", port, timeout=5)
    finally:
        thread.join(timeout=6)
        listener.close()
    if probe.outcome is LegacyOutcome.ACCEPTED:
        return probe
    return LegacyProbe(LegacyOutcome.CANNOT_OFFER,
                       f"this machine's TLS library cannot offer TLS 1.1 ({probe.detail})")


def _speaks_modern_tls(host: str, port: int, timeout: float) -> LegacyProbe | None:
    """None when a TLS 1.2+ handshake succeeds; else why the target cannot be judged (a
    refusal of TLS 1.1 by something that speaks no TLS at all proves nothing)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return None
    except (OSError, ssl.SSLError) as error:
        return LegacyProbe(LegacyOutcome.UNREACHABLE,
                           f"the target does not complete a modern TLS handshake either: {error}")


def probe_legacy_tls(host: str, port: int, timeout: float) -> LegacyProbe:
    """Offer only TLS 1.0/1.1 to ``host:port`` and tell what happened."""
    capability = client_can_offer_legacy_tls()
    if capability.outcome is not LegacyOutcome.ACCEPTED:
        return capability
    return _speaks_modern_tls(host, port, timeout) or _handshake(host, port, timeout)
