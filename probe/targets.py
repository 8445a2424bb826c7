"""Target validation: probe only ever sends to single hosts the operator named.

Networks, broadcast, multicast and unspecified addresses are refused before any packet is sent:
a typo must never turn into a sweep of somebody else's network.
"""

from __future__ import annotations

import ipaddress
import re
import socket

from probe.errors import UserError

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
RTF_UP, RTF_REJECT = 0x0001, 0x0200  # <linux/route.h>


def valid_hostname(name: str) -> bool:
    """RFC 1123 host name syntax; anything else is refused before any lookup is made."""
    name = name[:-1] if name.endswith(".") else name
    return 0 < len(name) <= 253 and all(_LABEL.match(label) for label in name.split("."))


def connected_ipv4_networks(route_file: str = "/proc/net/route") -> list[ipaddress.IPv4Network]:
    """Subnets this host is directly attached to (gateway 0.0.0.0, not the default route).

    Read from the kernel's routing table, so no packet and no subprocess is needed. Only used to
    refuse a network or broadcast address given as a target; unreadable means "none known".
    """
    nets: list[ipaddress.IPv4Network] = []
    try:
        with open(route_file, encoding="ascii") as fh:
            rows = [ln.split() for ln in fh.readlines()[1:]]
    except OSError:
        return nets
    for row in rows:
        try:
            dest, gateway, flags, mask = (int(x, 16) for x in (row[1], row[2], row[3], row[7]))
        except (IndexError, ValueError):
            continue
        if gateway != 0 or mask == 0 or not flags & RTF_UP or flags & RTF_REJECT:
            continue  # via a gateway, the default route, down, or an unreachable/blackhole route
        # /proc/net/route prints addresses in host byte order (little-endian on x86 and arm)
        d = ipaddress.IPv4Address(socket.ntohl(dest))
        m = ipaddress.IPv4Address(socket.ntohl(mask))
        try:
            nets.append(ipaddress.IPv4Network(f"{d}/{m}"))
        except ValueError:
            continue
    return nets


def refuse_non_host(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, given: str,
                    networks: list[ipaddress.IPv4Network] | None = None) -> None:
    """Raise UserError if ip is not one host: unspecified, multicast, broadcast, a subnet's own address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or (ip.version == 4 and ip in THIS_NETWORK):
        raise UserError(f"--target {given}: the unspecified / 'this network' address is not a host")
    if ip.is_multicast:
        raise UserError(f"--target {given}: multicast address; give one host")
    if ip.version == 4 and ip == LIMITED_BROADCAST:
        raise UserError(f"--target {given}: broadcast address; give one host")
    if ip.version == 4:
        for net in connected_ipv4_networks() if networks is None else networks:
            if net.prefixlen <= 30 and ip in (net.network_address, net.broadcast_address):
                what = "network" if ip == net.network_address else "broadcast"
                raise UserError(f"--target {given}: the {what} address of {net}, a subnet this host is on; "
                                "give one host")


def resolve_target(text: str, *, networks: list[ipaddress.IPv4Network] | None = None) -> str:
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
        if not valid_hostname(t):
            raise UserError(f"--target {t}: neither an IP address nor a valid host name") from None
        try:
            infos = socket.getaddrinfo(t, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UserError(f"--target {t}: cannot resolve host name ({why})") from None
        if not infos:
            raise UserError(f"--target {t}: the host name resolves to no address") from None
        ip = ipaddress.ip_address(str(infos[0][4][0]).split("%", 1)[0])
    refuse_non_host(ip, t, networks)
    return str(ip)


def read_targets_file(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [ln.split("#", 1)[0].strip() for ln in fh]
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"--targets-file {path}: cannot read ({exc.__class__.__name__})") from None
    return [ln for ln in lines if ln]
