"""NAT-PMP (RFC 6886): the one read-only request, and a strict parser for its answer.

A gateway's NAT-PMP server (often the same daemon as its UPnP IGD, e.g. miniupnpd) maps ports
for LAN clients. Discovery identifies it with the external-address request (version 0, opcode 0:
two bytes), which asks the gateway for its public address and changes nothing. The answer carries
a result code, the seconds since the server's port-mapping table was (re)initialised, and on
success the external IPv4 address. A PCP-only server (RFC 6887 section 9) answers a version-0
request with result 1 ("unsupported version"): that still shows a port-mapping server is there.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

PORT = 5351
EXTERNAL_ADDRESS_REQUEST = b"\x00\x00"  # version 0, opcode 0: "what is your external address?"
RESULTS = {0: "Success", 1: "Unsupported Version", 2: "Not Authorized/Refused", 3: "Network Failure",
           4: "Out of resources", 5: "Unsupported opcode"}


class NatPmpError(ValueError):
    """The bytes are not a NAT-PMP answer to our request."""


@dataclass(frozen=True)
class Answer:
    result: int
    epoch: int  # seconds since the server's mapping table was initialised
    external_address: str | None  # only in a successful external-address answer

    @property
    def result_name(self) -> str:
        return RESULTS.get(self.result, f"result {self.result}")

    def describe(self) -> str:
        addr = f", external address {self.external_address}" if self.external_address else ""
        return f"result {self.result} ({self.result_name}), epoch {self.epoch} s{addr}"


def parse(data: bytes, opcode: int = 0) -> Answer:
    """The answer to a request with `opcode` (RFC 6886 3.2 and 3.5): version 0, opcode 128 +
    `opcode`, result code, epoch, and for a successful external-address answer the address."""
    if len(data) < 8 or len(data) > 1100:
        raise NatPmpError(f"{len(data)} bytes is not a NAT-PMP answer")
    version, op, result, epoch = struct.unpack_from("!BBHI", data, 0)
    if version != 0 or op != 128 + opcode:
        raise NatPmpError(f"version {version}, opcode {op}: not an answer to NAT-PMP opcode {opcode}")
    address = None
    if opcode == 0 and result == 0:
        if len(data) < 12:
            raise NatPmpError("a successful external-address answer without the address")
        address = str(ipaddress.IPv4Address(data[8:12]))
    return Answer(result, epoch, address)
