"""Deliberately flawed receivers: the reference receiver with exactly one realistic flaw each.

A check is worth something only if it fails on a known-bad implementation and passes on a
known-good one. :data:`FLAWS` maps a flaw's name to how to build the receiver, the suite
options the run needs, and the exact set of requirement rows expected to FAIL, with a one-line
reason for every row other than the one the flaw targets (``test_flawed_receivers.py`` runs the
suite against each and compares). Every RCV row is failed by at least one flaw.

Each receiver overrides one step of :class:`ReferenceReceiver` (see its docstring), one class
setting, or its TLS setup.
"""

from __future__ import annotations

import json
import re
import ssl
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from punctual_conformance.reference_receiver import (
    WEBHOOK_PATH,
    Envelope,
    ReferenceReceiver,
    Reply,
)
from punctual_conformance.schemas import EVENT_TYPES
from punctual_conformance.tls import DEFAULT_IDENTITIES, EphemeralCA

__all__ = [
    "CONTROLS",
    "FLAWS",
    "Control",
    "Flaw",
    "suite_arguments",
]

#: Deliveries of this type are slow in the ``slow-ack`` flaw (run with an ack deadline of 1 s).
SLOW_ACK_DEADLINE_S = 1.0
SLOW_ACK_DELAY_S = 1.5  # over the 1 s deadline, under the 2 s request timeout (1 s + grace)


# -- flaws in the steps of a delivery ----------------------------------------------------------


class FailsOnOneType(ReferenceReceiver):
    """The team.member_added handler reads a field the event does not have: KeyError → 500."""

    def handle_event(self, event: Envelope) -> None:
        if event["type"] == "team.member_added":
            _ = event["data"]["object"]["member_id"]  # the field is called user_id
        super().handle_event(event)


class SlowOnOneType(ReferenceReceiver):
    """Recomputes the calendar synchronously before acknowledging availability.updated."""

    def handle_event(self, event: Envelope) -> None:
        if event["type"] == "availability.updated":
            time.sleep(SLOW_ACK_DELAY_S)
        super().handle_event(event)


class RedirectsOneType(ReferenceReceiver):
    """Cancellations "moved" to another service: 307 to it (senders don't follow redirects)."""

    def acknowledge(self, event: Envelope, duplicate: bool) -> Reply:
        if event["type"] == "booking.cancelled":
            return Reply(307, {"moved": True},
                         {"Location": "https://cancellations.example.invalid/webhook"})
        return super().acknowledge(event, duplicate)


class RejectsUnknownTypes(ReferenceReceiver):
    """Only the six known types parse; anything else is a 400 (not forward compatible)."""

    def parse_event(self, body: bytes) -> Envelope:
        event = super().parse_event(body)
        if event["type"] not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event['type']!r}")
        return event


class StrictEnvelope(ReferenceReceiver):
    """Rejects envelopes with top-level keys other than id, type, created and data."""

    def parse_event(self, body: bytes) -> Envelope:
        event = super().parse_event(body)
        unknown = set(event) - {"id", "type", "created", "data"}
        if unknown:
            raise ValueError(f"unexpected envelope fields: {sorted(unknown)}")
        return event


class AsciiOnly(ReferenceReceiver):
    """Decodes the body as ASCII: any non-ASCII text is a UnicodeDecodeError (→ 400)."""

    def parse_event(self, body: bytes) -> Envelope:
        return super().parse_event(body.decode("ascii").encode("ascii"))


class SmallBodyLimit(ReferenceReceiver):
    """A 64 KiB body limit (a framework default): larger deliveries get 413."""

    max_body_bytes = 64 * 1024


class SignatureOptional(ReferenceReceiver):
    """Verifies the signature only when the header is present."""

    def signature_is_valid(self, body: bytes, header: str | None) -> bool:
        return header is None or super().signature_is_valid(body, header)


class ChecksDigestFormatOnly(ReferenceReceiver):
    """Checks that the header looks like a hex SHA-256 digest, never that it is the right one."""

    def signature_is_valid(self, body: bytes, header: str | None) -> bool:
        return header is not None and re.fullmatch(r"[0-9a-f]{64}", header) is not None


class StripsSha256Prefix(ReferenceReceiver):
    """Tolerates a ``sha256=`` prefix (another provider's format): a malformed value passes."""

    def signature_is_valid(self, body: bytes, header: str | None) -> bool:
        if header is not None:
            header = header.removeprefix("sha256=")
        return super().signature_is_valid(body, header)


class ComparesDigestPrefix(ReferenceReceiver):
    """Compares only the first 64 characters: a longer value with trailing junk passes."""

    def signature_is_valid(self, body: bytes, header: str | None) -> bool:
        return super().signature_is_valid(body, None if header is None else header[:64])


class VerifiesReserializedJson(ReferenceReceiver):
    """Verifies over ``json.dumps(json.loads(body))`` (compact, raw UTF-8), not the raw bytes."""

    def signature_is_valid(self, body: bytes, header: str | None) -> bool:
        try:
            parsed = json.loads(body)
        except ValueError:
            return False
        again = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return super().signature_is_valid(again, header)


class BadSignature500(ReferenceReceiver):
    """Raises on a bad signature and lets the framework answer 500."""

    def reject(self, status: int, message: str) -> Reply:
        return Reply(500, {"error": message})


class BadSignature401(ReferenceReceiver):
    """Answers 401 Unauthorized to a bad signature (4xx, but the profile asks for 400)."""

    def reject(self, status: int, message: str) -> Reply:
        return Reply(401 if status == 400 else status, {"error": message})


class ProcessesBeforeVerifying(ReferenceReceiver):
    """Parses and processes the event first, checks the signature afterwards (then rejects)."""

    def handle_delivery(self, body: bytes, signature: str | None) -> Reply:
        try:
            event = self.parse_event(body)
        except ValueError as exc:
            return self.reject(400, str(exc))
        first_time = self.process(event)
        if not self.signature_is_valid(body, signature):
            return self.reject(400, "invalid signature")
        return self.acknowledge(event, duplicate=not first_time)


class ConflictOnDuplicate(ReferenceReceiver):
    """Answers 409 Conflict to a redelivery (the sender then retries it forever)."""

    def acknowledge(self, event: Envelope, duplicate: bool) -> Reply:
        if duplicate:
            return Reply(409, {"error": "event already processed"})
        return super().acknowledge(event, duplicate)


class NoDedupe(ReferenceReceiver):
    """Processes every delivery, duplicates included."""

    def process(self, event: Envelope) -> bool:
        self.handle_event(event)
        self.store.record_effect(event["id"], event["type"])
        return True


class RacyDedupe(ReferenceReceiver):
    """Check-then-act dedupe: look the id up, do the work, then record it (not atomic)."""

    race_window_s = 0.05

    def process(self, event: Envelope) -> bool:
        if self.store.processed_count(event["id"]):
            return False
        time.sleep(self.race_window_s)  # the business work between the check and the mark
        self.handle_event(event)
        self.store.record_effect(event["id"], event["type"])
        return True


class DedupesOnObjectId(ReferenceReceiver):
    """Dedupes on ``data.object.id`` (falling back to the event id), not on the event id."""

    def process(self, event: Envelope) -> bool:
        obj = event.get("data", {}).get("object", {})
        key = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        claimed = self.store.process_once(f"object:{key}" if key else event["id"], event["type"])
        if claimed:
            self.handle_event(event)
            self.store.record_effect(event["id"], event["type"])
        return claimed


# -- flaws in the HTTP handler (not reachable through the delivery steps) -----------------------


class AcknowledgesGet(ReferenceReceiver):
    """Answers ``GET /webhook`` with 200 (a health check on the webhook URL)."""

    def answer_other(self, method: str, path: str) -> Reply:
        if method == "GET" and path == WEBHOOK_PATH:
            return Reply(200, {"status": "ok"})
        return super().answer_other(method, path)


# -- flaws in the TLS setup -------------------------------------------------------------------


class _OwnTls(ReferenceReceiver):
    """A receiver serving with a given server context, signed by ``ca`` (its bundle is kept)."""

    def __init__(self, secret: str, ca: EphemeralCA, context: ssl.SSLContext) -> None:
        self._own_dir = tempfile.TemporaryDirectory(prefix="punctual-flawed-tls-")
        self._own_bundle = ca.write_ca_bundle(self._own_dir.name)
        super().__init__(secret, tls=context)

    @property
    def ca_bundle(self) -> Path | None:
        return self._own_bundle

    def stop(self) -> None:
        super().stop()
        self._own_dir.cleanup()


def wrong_host_certificate(secret: str) -> ReferenceReceiver:
    """A certificate from a trusted CA, but for another host name than 127.0.0.1."""
    ca = EphemeralCA(("receiver.example.invalid",))
    return _OwnTls(secret, ca, ca.server_context())


def legacy_tls(secret: str) -> ReferenceReceiver:
    """A server context that still accepts TLS 1.0 and 1.1 (and weak ciphers)."""
    ca = EphemeralCA(DEFAULT_IDENTITIES)
    context = ca.server_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the deprecation is the point
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return _OwnTls(secret, ca, context)


def plain_http(secret: str) -> ReferenceReceiver:
    return ReferenceReceiver(secret, plain_http=True)


# -- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Flaw:
    """One deliberately flawed receiver and what the suite must say about it."""

    target: str  # the requirement row the flaw is built to fail
    description: str
    factory: Callable[[str], ReferenceReceiver]  # secret -> a receiver, not started
    #: every other row the flaw also fails, with why the flaw explains it
    also_fails: Mapping[str, str] = field(default_factory=dict)
    #: rows the flaw leaves not verified (every row not listed must pass), with why
    not_verified: Mapping[str, str] = field(default_factory=dict)
    suite_args: tuple[str, ...] = ()  # extra suite options for this run
    trust_ca: bool = True  # give the suite the receiver's CA bundle
    examples: int = 2  # --punctual-examples

    @property
    def expected_failures(self) -> frozenset[str]:
        return frozenset({self.target, *self.also_fails})


_SIG_CONSEQUENCES = {
    "RCV-SIG-06": "the accepted bad delivery was answered 2xx, not 4xx",
    "RCV-SIG-07": "the accepted bad delivery was answered 2xx, not 400",
    "RCV-SIG-08": "the accepted bad delivery was processed",
}


def _sig_consequences(**more: str) -> dict[str, str]:
    return {**more, **_SIG_CONSEQUENCES}


FLAWS: dict[str, Flaw] = {
    "fails-on-team-member-added": Flaw(
        "RCV-ACK-01", FailsOnOneType.__doc__ or "", FailsOnOneType,
        {"RCV-ACK-06": "the generated team.member_added events crash the handler too"},
    ),
    "slow-on-availability-updated": Flaw(
        "RCV-ACK-02", SlowOnOneType.__doc__ or "", SlowOnOneType,
        suite_args=("--punctual-ack-timeout", f"{SLOW_ACK_DEADLINE_S:g}"),
    ),
    "redirects-booking-cancelled": Flaw(
        "RCV-ACK-03", RedirectsOneType.__doc__ or "", RedirectsOneType,
        {"RCV-ACK-01": "the valid booking.cancelled delivery got a 307, not a 2xx",
         "RCV-ACK-06": "the generated booking.cancelled events got a 307, not a 2xx"},
    ),
    "rejects-unknown-type": Flaw(
        "RCV-ACK-04", RejectsUnknownTypes.__doc__ or "", RejectsUnknownTypes,
    ),
    "strict-envelope": Flaw(
        "RCV-ACK-05", StrictEnvelope.__doc__ or "", StrictEnvelope,
        {"RCV-ACK-06": "schema-valid generated envelopes may carry extra keys (the schemas "
                       "are open), and one of the generated events does"},
    ),
    "ascii-only": Flaw(
        "RCV-ACK-06", AsciiOnly.__doc__ or "", AsciiOnly,
        {"RCV-SIG-05": "four of the five raw-byte variants carry raw UTF-8 text"},
        # RCV-ACK-06 always includes a generated event with non-ASCII text, even at 1.
        examples=1,
    ),
    "body-limit-64k": Flaw(
        "RCV-ACK-07", SmallBodyLimit.__doc__ or "", SmallBodyLimit,
    ),
    "signature-optional": Flaw(
        "RCV-SIG-01", SignatureOptional.__doc__ or "", SignatureOptional,
        _sig_consequences(),
    ),
    "digest-format-only": Flaw(
        "RCV-SIG-02", ChecksDigestFormatOnly.__doc__ or "", ChecksDigestFormatOnly,
        _sig_consequences(
            **{"RCV-SIG-03": "the original body's valid digest is well-formed hex, so the "
                             "altered body is accepted too"}),
    ),
    "strips-sha256-prefix": Flaw(
        "RCV-SIG-04", StripsSha256Prefix.__doc__ or "", StripsSha256Prefix,
        _sig_consequences(),
    ),
    "compares-digest-prefix": Flaw(
        "RCV-SIG-04", ComparesDigestPrefix.__doc__ or "", ComparesDigestPrefix,
        _sig_consequences(),
    ),
    "verifies-reserialized-json": Flaw(
        "RCV-SIG-05", VerifiesReserializedJson.__doc__ or "", VerifiesReserializedJson,
        {"RCV-ACK-07": "the large event is pretty-printed, so its re-serialization is not "
                       "the signed bytes"},
    ),
    "bad-signature-500": Flaw(
        "RCV-SIG-06", BadSignature500.__doc__ or "", BadSignature500,
        {"RCV-SIG-07": "500 is not 400 either"},
    ),
    "bad-signature-401": Flaw(
        "RCV-SIG-07", BadSignature401.__doc__ or "", BadSignature401,
    ),
    "processes-before-verifying": Flaw(
        "RCV-SIG-08", ProcessesBeforeVerifying.__doc__ or "", ProcessesBeforeVerifying,
    ),
    "conflict-on-duplicate": Flaw(
        "RCV-IDEM-01", ConflictOnDuplicate.__doc__ or "", ConflictOnDuplicate,
        {"RCV-IDEM-03": "nine of the ten concurrent copies are duplicates, answered 409"},
    ),
    "no-dedupe": Flaw(
        "RCV-IDEM-02", NoDedupe.__doc__ or "", NoDedupe,
        {"RCV-IDEM-03": "the ten concurrent copies are processed ten times"},
    ),
    "racy-dedupe": Flaw(
        "RCV-IDEM-03", RacyDedupe.__doc__ or "", RacyDedupe,
    ),
    "dedupes-on-object-id": Flaw(
        "RCV-IDEM-04", DedupesOnObjectId.__doc__ or "", DedupesOnObjectId,
        # RCV-IDEM-02/03 use a booking of their own, so only RCV-IDEM-04 sees this flaw.
    ),
    "plain-http": Flaw(
        "RCV-TLS-01", "Serves plain http:// (run without --punctual-allow-http).", plain_http,
        {"RCV-TLS-02": "plain http has no certificate at all"},
        not_verified={"RCV-TLS-03": "plain http: there is no TLS to judge"},
        trust_ca=False,
    ),
    "untrusted-ca": Flaw(
        "RCV-TLS-02", "A certificate from a CA the suite is not given.", ReferenceReceiver,
        trust_ca=False,
    ),
    "wrong-host-certificate": Flaw(
        "RCV-TLS-02", wrong_host_certificate.__doc__ or "", wrong_host_certificate,
    ),
    "accepts-legacy-tls": Flaw(
        "RCV-TLS-03", legacy_tls.__doc__ or "", legacy_tls,
    ),
    "acknowledges-get": Flaw(
        "RCV-HTTP-01", AcknowledgesGet.__doc__ or "", AcknowledgesGet,
    ),
}


# -- correct receivers (positive controls) ------------------------------------------------------


class Acknowledges202(ReferenceReceiver):
    """Acknowledges with 202 Accepted (any 2xx is an acknowledgement)."""

    def acknowledge(self, event: Envelope, duplicate: bool) -> Reply:
        return Reply(202, super().acknowledge(event, duplicate).body)


class Acknowledges204(ReferenceReceiver):
    """Acknowledges with 204 No Content and no body at all."""

    def acknowledge(self, event: Envelope, duplicate: bool) -> Reply:
        return Reply(204, {})


@dataclass(frozen=True)
class Control:
    description: str
    factory: Callable[[str], ReferenceReceiver]


CONTROLS: dict[str, Control] = {
    "acknowledges-202": Control(Acknowledges202.__doc__ or "", Acknowledges202),
    "acknowledges-204-no-body": Control(Acknowledges204.__doc__ or "", Acknowledges204),
}


def suite_arguments(receiver: ReferenceReceiver, *, trust_ca: bool = True, examples: int = 2,
                    extra: tuple[str, ...] = ()) -> list[str]:
    """The suite's options to check the running ``receiver`` with its observer."""
    args = ["--punctual-target", receiver.url, "--punctual-observer", receiver.observer_url,
            "--punctual-examples", str(examples)]
    if trust_ca and receiver.ca_bundle is not None:
        args += ["--punctual-ca-bundle", str(receiver.ca_bundle)]
    return [*args, *extra]
