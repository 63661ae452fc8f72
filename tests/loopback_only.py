"""A pytest plugin the tests load into every suite they start (``-p loopback_only``): the
process may talk to loopback only. Connections elsewhere are refused and names other than
``localhost`` are not looked up at all (no DNS query leaves the machine), through an audit
hook, which sees every ``socket.connect``, ``sendto`` and ``getaddrinfo`` and cannot be
removed. A test that needs an unresolvable host gets the resolver's usual error at once."""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.getaddrinfo":
        host = args[0]
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME,
                                  "Name or service not known (the tests resolve no names)")
    elif event in ("socket.connect", "socket.sendto"):
        address = args[1]
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise PermissionError(f"loopback-only test guard: no traffic to {address[0]}")


def pytest_configure(config: object) -> None:
    sys.addaudithook(_guard)
