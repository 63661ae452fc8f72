"""RCV-TLS-*: HTTPS only, a certificate that verifies, no legacy protocol versions."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from punctual_conformance.checks import check
from punctual_conformance.client import TargetClient
from punctual_conformance.fixtures import Target, TlsProbe
from punctual_conformance.legacy_tls import LegacyOutcome, probe_legacy_tls
from punctual_conformance.outcomes import expect, fail, not_verified
from punctual_conformance.settings import Settings

DEVELOPMENT_MODE = "development mode (--punctual-allow-http): TLS is not checked"


@pytest.fixture
def _tls_rows_apply(punctual_settings: Settings) -> None:
    if punctual_settings.allow_http:
        pytest.skip(DEVELOPMENT_MODE)


@check("RCV-TLS-01")
def test_endpoint_is_https(_tls_rows_apply: None, punctual_target: Target) -> None:
    scheme = urlsplit(punctual_target.url).scheme
    expect(scheme == "https", "an https:// endpoint URL", f"{scheme}:// ({punctual_target.url})")


@check("RCV-TLS-02")
def test_certificate_verifies(_tls_rows_apply: None, punctual_target: Target,
                              punctual_tls: TlsProbe, punctual_client: TargetClient) -> None:
    if not punctual_target.is_https:
        fail("a certificate that verifies", "plain http: no certificate at all")
    if punctual_tls.exchange is not None:
        punctual_client.recorder.append(punctual_tls.exchange)
    if not punctual_tls.verified and not punctual_tls.certificate_rejected:
        not_verified(f"the probe request got no answer, so the certificate was not judged: "
                     f"{punctual_tls.error}")
    expect(punctual_tls.verified,
           "the certificate verifies against the system trust store"
           + (f" and {punctual_target.ca_bundle}" if punctual_target.ca_bundle else ""),
           punctual_tls.error or "")


@check("RCV-TLS-03")
def test_legacy_tls_refused(_tls_rows_apply: None, punctual_target: Target,
                            punctual_settings: Settings) -> None:
    if not punctual_target.is_https:
        not_verified("plain http endpoint: there is no TLS to judge")
    parts = urlsplit(punctual_target.url)
    assert parts.hostname is not None
    probe = probe_legacy_tls(parts.hostname, parts.port or 443,
                             timeout=min(punctual_settings.ack_timeout, 10.0))
    if probe.outcome in (LegacyOutcome.CANNOT_OFFER, LegacyOutcome.UNREACHABLE):
        not_verified(probe.detail)
    expect(probe.outcome is LegacyOutcome.REFUSED,
           "a handshake offering only TLS 1.0/1.1 is refused", probe.detail)
