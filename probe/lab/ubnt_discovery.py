"""A stand-in for a device's Ubiquiti-style discovery responder (UDP 10001), for the lab only.

No Debian package answers Ubiquiti's discovery protocol (it is firmware code on airOS/UniFi devices
and their clones), so the smart hub's responder is this: it answers the public version-1 request
`01 00 00 00` with the type-length-value fields such firmware sends (MAC, MAC+IP, firmware, host
name, model), and ignores everything else. It binds the address it is given (inside the device's
namespace), answers at most `--max-answers` requests, and exits after `--lifetime` seconds.
Documented in docs/lab.md (stand-ins).
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import struct
import sys
import time

REQUEST = b"\x01\x00\x00\x00"


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("!BH", kind, len(value)) + value


def answer(mac: str, address: str, firmware: str, hostname: str, model: str) -> bytes:
    hw = bytes.fromhex(mac.replace(":", ""))
    body = (tlv(0x01, hw) + tlv(0x02, hw + ipaddress.IPv4Address(address).packed) + tlv(0x03, firmware.encode())
            + tlv(0x0B, hostname.encode()) + tlv(0x0C, model.encode()) + tlv(0x14, model.encode()))
    return struct.pack("!BBH", 1, 0, len(body)) + body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=10001)
    ap.add_argument("--mac", required=True)
    ap.add_argument("--firmware", required=True)
    ap.add_argument("--hostname", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--lifetime", type=float, default=6 * 3600)
    ap.add_argument("--max-answers", type=int, default=10000)
    args = ap.parse_args()
    reply = answer(args.mac, args.bind, args.firmware, args.hostname, args.model)
    end = time.monotonic() + args.lifetime
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((args.bind, args.port))
        while answered < args.max_answers and (left := end - time.monotonic()) > 0:
            s.settimeout(min(left, 5.0))
            try:
                data, peer = s.recvfrom(2048)
            except TimeoutError:
                continue
            if data == REQUEST:
                s.sendto(reply, peer)
                answered += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
