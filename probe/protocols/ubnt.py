"""Ubiquiti device discovery (UDP 10001): the public 4-byte request and its TLV answer.

Ubiquiti's airOS/UniFi devices (and their clones) answer the version-1 discovery request
`01 00 00 00` with their MAC and IP addresses, firmware, model, host name and wireless network
name, to anyone who asks. The request reads and changes nothing; the answer's format (version,
command, length, then type-length-value fields) is public, and nmap's `ubiquiti-discovery` probe
sends the same four bytes. The open answer discloses identifiers and was used for reflection
attacks (the answer is many times the request), which is why vendors now disable it by default.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

from probe.protocols import udpio

PORT = 10001
REQUEST = b"\x01\x00\x00\x00"
# field type -> name (the common ones; others are kept as hex)
FIELDS = {0x01: "hwaddr", 0x02: "ip_info", 0x03: "firmware", 0x0A: "uptime", 0x0B: "hostname", 0x0C: "platform",
          0x0D: "essid", 0x0E: "wmode", 0x10: "system_id", 0x14: "model", 0x15: "model_v2", 0x16: "version",
          0x17: "default_config", 0x18: "locating", 0x19: "dhcp_client", 0x1B: "required_firmware",
          0x1C: "ssh_port", 0x20: "device_id"}
_TEXT = {"firmware", "hostname", "platform", "essid", "model", "model_v2", "version", "required_firmware"}


class UbntError(ValueError):
    """The bytes are not an answer to the discovery request."""


@dataclass
class Answer:
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def mac(self) -> str | None:
        return self.fields.get("hwaddr") or self.fields.get("ip_info", "").split(" ")[0] or None


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def parse(data: bytes) -> Answer:
    """Version 1, command 0, a length that matches the datagram, and well-formed TLVs."""
    if len(data) < 4 or data[0] != 1 or data[1] != 0:
        raise UbntError("not a version-1 discovery answer")
    (length,) = struct.unpack_from("!H", data, 2)
    if length == 0 or 4 + length > len(data):
        raise UbntError(f"length {length} does not fit the {len(data)}-byte datagram")
    out, i, end = Answer(), 4, 4 + length
    while i < end:
        if i + 3 > end:
            raise UbntError("truncated field")
        kind, size = data[i], struct.unpack_from("!H", data, i + 1)[0]
        value = data[i + 3:i + 3 + size]
        if len(value) != size:
            raise UbntError("field longer than the answer")
        i += 3 + size
        name = FIELDS.get(kind, f"type_{kind:02x}")
        if name == "hwaddr" and size == 6:
            text = _mac(value)
        elif name == "ip_info" and size == 10:
            text = f"{_mac(value[:6])} {ipaddress.IPv4Address(value[6:10])}"
        elif name == "uptime" and size == 4:
            text = str(struct.unpack("!I", value)[0])
        elif name in _TEXT:
            text = value[:200].decode("utf-8", "replace")
        else:
            text = value[:64].hex()
        if name == "ip_info" and name in out.fields:
            out.fields[name] += f"; {text}"
        else:
            out.fields.setdefault(name, text)
        if len(out.fields) > 40:
            break
    if not out.fields:
        raise UbntError("an answer without fields")
    return out


def ask(host: str, port: int = PORT, *, timeout: float, attempts: int = 2) -> tuple[str, list[bytes], Answer | None]:
    """(state, replies, the parsed answer) of the discovery request."""
    def parsed(d: bytes) -> Answer | None:
        try:
            return parse(d)
        except UbntError:
            return None
    state, replies = udpio.ask(host, port, REQUEST, lambda d: parsed(d) is not None, timeout=timeout,
                               attempts=attempts)
    return state, replies, (parsed(replies[0]) if replies else None)
