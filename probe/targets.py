"""Target validation: probe only ever sends to single hosts the operator named.

Networks, broadcast, multicast and unspecified addresses are refused before any packet is sent:
a typo must never turn into a sweep of somebody else's network.
"""

from __future__ import annotations

import ipaddress
import socket

from .errors import UserError


def resolve_target(text: str) -> str:
    """An IP literal for one host, or a UserError in one line."""
    t = text.strip()
    if not t:
        raise UserError("empty --target")
    if "/" in t:
        raise UserError(f"--target {t}: give one host, not a network (probe does not sweep ranges)")
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    try:
        ip = ipaddress.ip_address(t)
    except ValueError:
        try:
            infos = socket.getaddrinfo(t, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UserError(f"--target {t}: cannot resolve host name ({exc.strerror if hasattr(exc, 'strerror') else exc})") from None
        ip = ipaddress.ip_address(infos[0][4][0])
    if ip.is_unspecified:
        raise UserError(f"--target {t}: the unspecified address is not a host")
    if ip.is_multicast:
        raise UserError(f"--target {t}: multicast address; give one host")
    if ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255"):
        raise UserError(f"--target {t}: broadcast address; give one host")
    return str(ip)


def read_targets_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [ln.split("#", 1)[0].strip() for ln in fh]
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--targets-file {path}: cannot read ({exc})") from None
    return [ln for ln in lines if ln]
