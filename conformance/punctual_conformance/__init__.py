"""Punctual Webhooks v1 conformance suite: the contract, a reference receiver and sender,
and a pytest plugin that checks any receiver or sender implementation."""

from __future__ import annotations

from punctual_conformance.signing import SIGNATURE_HEADER, sign, verify

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

__version__ = "0.1.0"
