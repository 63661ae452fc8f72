"""Command-line options, ini keys and environment variables of the plugin, resolved once.

Each option's help text is one constant used for both the flag and its ini key. Precedence:
command-line flag > environment variable > ini key > default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from punctual_conformance.catalogue import Mode
from punctual_conformance.secret import MissingSecret, Secret

__all__ = ["OPTIONS", "Option", "Settings", "add_options", "resolve_settings"]

REFERENCE = "reference"


@dataclass(frozen=True)
class Option:
    name: str  # flag without the leading dashes, e.g. "punctual-target"
    help: str
    env: str | None = None
    kind: str = "string"  # string | bool | float | int

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def ini(self) -> str:
        return self.name.replace("-", "_")

    @property
    def dest(self) -> str:
        return self.ini


TARGET = Option(
    "punctual-target",
    "Receiver mode: check the webhook receiver at this URL. The word 'reference' starts the "
    "bundled reference receiver (HTTPS, ephemeral CA) and checks it.",
    env="PUNCTUAL_TARGET",
)
SENDER_CMD = Option(
    "punctual-sender-cmd",
    "Sender mode: check the sender driven by this command (split like a shell, run without "
    "one). The word 'reference' drives the bundled reference sender.",
    env="PUNCTUAL_SENDER_CMD",
)
CA_BUNDLE = Option(
    "punctual-ca-bundle",
    "PEM file of extra CA certificates to trust for the target, added to the system store.",
    env="PUNCTUAL_CA_BUNDLE",
)
OBSERVER = Option(
    "punctual-observer",
    "Observer URL of the receiver: GET URL?event_id=ID answers {\"processed\": N}. Rows "
    "that need it are reported 'not verified' without one.",
    env="PUNCTUAL_OBSERVER",
)
ACK_TIMEOUT = Option(
    "punctual-ack-timeout",
    "Acknowledgement deadline in seconds (RCV-ACK-02), default 10. Requests wait a grace "
    "of up to 5 s more, so a late answer is still seen (and judged late).",
    env="PUNCTUAL_ACK_TIMEOUT",
    kind="float",
)
ALLOW_HTTP = Option(
    "punctual-allow-http",
    "Development mode: check an http:// target; TLS rows are skipped and the verdict is no "
    "conformance claim.",
    env="PUNCTUAL_ALLOW_HTTP",
    kind="bool",
)
REPORT = Option("punctual-report", "Write the HTML conformance report to this path.",
                env="PUNCTUAL_REPORT")
REPORT_JSON = Option("punctual-report-json", "Write the JSON conformance report to this path.",
                     env="PUNCTUAL_REPORT_JSON")
EXAMPLES = Option(
    "punctual-examples",
    "Generated events per event type for RCV-ACK-06 (property-based). Default 5.",
    env="PUNCTUAL_EXAMPLES",
    kind="int",
)
SEED = Option(
    "punctual-seed",
    "Seed of the generated events, so a run can be reproduced exactly. Default 0.",
    env="PUNCTUAL_SEED",
    kind="int",
)
STRICT = Option(
    "punctual-strict",
    "CI gate: also fail (exit 1) on SHOULD failures and not-verified rows, not only on MUST "
    "failures.",
    env="PUNCTUAL_STRICT",
    kind="bool",
)

OPTIONS: tuple[Option, ...] = (
    TARGET, SENDER_CMD, CA_BUNDLE, OBSERVER, ACK_TIMEOUT, ALLOW_HTTP, REPORT, REPORT_JSON,
    EXAMPLES, SEED, STRICT,
)

_DEFAULTS: dict[str, Any] = {
    ACK_TIMEOUT.name: 10.0,
    ALLOW_HTTP.name: False,
    EXAMPLES.name: 5,
    SEED.name: 0,
    STRICT.name: False,
}


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("punctual", "Punctual Webhooks conformance")
    for option in OPTIONS:
        if option.kind == "bool":
            group.addoption(option.flag, action="store_true", default=None, dest=option.dest,
                            help=option.help)
            parser.addini(option.ini, option.help, type="bool", default=None)
        else:
            group.addoption(option.flag, action="store", default=None, dest=option.dest,
                            metavar=option.kind.upper() if option.kind != "string" else "VALUE",
                            help=option.help)
            parser.addini(option.ini, option.help, default=None)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(option: Option, raw: object) -> object:
    if option.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise pytest.UsageError(f"{option.flag}: expected true or false, got {raw!r}")
    converters: dict[str, Callable[[str], object]] = {"float": float, "int": int}
    convert = converters.get(option.kind)
    if convert is None:
        return str(raw)
    try:
        value = convert(str(raw))
    except ValueError:
        raise pytest.UsageError(
            f"{option.flag}: expected a number, got {raw!r}"
        ) from None
    if isinstance(value, (int, float)) and value <= 0 and option is not SEED:
        raise pytest.UsageError(f"{option.flag}: must be greater than 0, got {raw!r}")
    return value


def _raw_value(config: pytest.Config, option: Option) -> object:
    flag_value = config.getoption(option.dest)
    if flag_value is not None:
        return flag_value
    if option.env and os.environ.get(option.env) not in (None, ""):
        return os.environ[option.env]
    ini_value = config.getini(option.ini)
    if ini_value not in (None, "", []):
        return ini_value
    return _DEFAULTS.get(option.name)


@dataclass(frozen=True)
class Settings:
    mode: Mode | None
    target: str | None
    sender_cmd: str | None
    ca_bundle: Path | None
    observer: str | None
    ack_timeout: float
    allow_http: bool
    report: Path | None
    report_json: Path | None
    examples: int
    seed: int
    strict: bool
    secret: Secret | None

    @property
    def request_timeout(self) -> float:
        """How long one request may take: the ack deadline plus a grace."""
        return self.ack_timeout + min(self.ack_timeout, 5.0)

    @property
    def uses_reference(self) -> bool:
        chosen = self.target if self.mode is Mode.RECEIVER else self.sender_cmd
        return chosen == REFERENCE


def resolve_settings(config: pytest.Config) -> Settings:
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = _raw_value(config, option)
        values[option.name] = None if raw is None else _convert(option, raw)
    target, sender_cmd = values[TARGET.name], values[SENDER_CMD.name]
    if target and sender_cmd:
        raise pytest.UsageError(
            f"{TARGET.flag} (receiver mode) and {SENDER_CMD.flag} (sender mode) exclude each "
            "other: run the suite once per mode"
        )
    mode = Mode.RECEIVER if target else Mode.SENDER if sender_cmd else None
    secret = _resolve_secret(mode, target == REFERENCE or sender_cmd == REFERENCE)
    ca_bundle = values[CA_BUNDLE.name]
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise pytest.UsageError(f"{CA_BUNDLE.flag}: no such file: {ca_bundle}")

    def path(name: str) -> Path | None:
        return None if values[name] is None else Path(values[name])

    return Settings(
        mode=mode,
        target=target,
        sender_cmd=sender_cmd,
        ca_bundle=path(CA_BUNDLE.name),
        observer=values[OBSERVER.name],
        ack_timeout=float(values[ACK_TIMEOUT.name]),
        allow_http=bool(values[ALLOW_HTTP.name]),
        report=path(REPORT.name),
        report_json=path(REPORT_JSON.name),
        examples=int(values[EXAMPLES.name]),
        seed=int(values[SEED.name]),
        strict=bool(values[STRICT.name]),
        secret=secret,
    )


def _resolve_secret(mode: Mode | None, reference: bool) -> Secret | None:
    if mode is None:
        return None
    try:
        return Secret.from_environment()
    except MissingSecret as missing:
        if reference:
            # The suite runs both ends, so a throw-away secret keeps the contract honest.
            return Secret.ephemeral()
        raise pytest.UsageError(str(missing)) from None
