"""UDP discovery: one harmless, protocol-correct request per port, because UDP has no handshake.

A UDP port only shows itself by answering a datagram it understands, so each probe is a real
request of its protocol: SNMP GET sysDescr.0 with community "public" (v2c, then v1), a unicast SSDP
M-SEARCH to the target's own address (never multicast: from the root namespace that would leave
the machine), a unicast mDNS query for `_services._dns-sd._udp.local` PTR, and a DNS
`version.bind` CH TXT query. The datagrams go through a connected socket so that an ICMP port
unreachable shows as "closed" instead of silence. Plain sockets: scapy would add nothing here.

Every answer is kept verbatim; an SNMP answer also proves that the community "public" is accepted,
which the unauthenticated-access checks rely on.
"""

from __future__ import annotations

import os
import re
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from probe.protocols import snmp

MAX_DATAGRAM = 65535
MAX_REPLIES = 16  # SSDP ssdp:all may answer once per device/service type; keep a bounded number


@dataclass
class UdpExchange:
    label: str  # e.g. "SNMPv2c GET sysDescr.0 community=public"
    request: bytes
    replies: list[bytes] = field(default_factory=list)


@dataclass
class UdpResult:
    port: int
    state: str  # open | closed (ICMP port unreachable) | unreachable (no route) | no-answer (open|filtered)
    protocol: str | None = None
    product: str | None = None
    version: str | None = None
    exchanges: list[UdpExchange] = field(default_factory=list)
    detail: dict[str, str] = field(default_factory=dict)


# -- SNMP (BER from the shared client in probe.protocols.snmp) ----------------------------------
def snmp_get_request(community: str, version: int, request_id: int, oid: str = snmp.SYS_DESCR) -> bytes:
    """SNMP GetRequest (version 0 = v1, 1 = v2c) for one OID."""
    return snmp.message(version, community.encode(), snmp.GET, request_id, oid)


def parse_snmp_response(data: bytes) -> dict[str, object] | None:
    """{version, community, request_id, error_status, value} of a GetResponse, or None."""
    try:
        reply = snmp.parse_message(data)
    except (ValueError, IndexError):
        return None
    if reply.pdu_type != snmp.RESPONSE:
        return None
    value = reply.varbinds[0][2] if reply.varbinds and isinstance(reply.varbinds[0][2], bytes) else None
    return {"version": reply.version, "community": reply.community.decode("latin-1"),
            "request_id": reply.request_id, "error_status": reply.error_status, "value": value}


# -- DNS / mDNS -----------------------------------------------------------------------------------
def dns_query(qid: int, name: str, qtype: int, qclass: int, rd: bool = False) -> bytes:
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".") if label) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, qclass)


def _skip_name(data: bytes, pos: int) -> int:
    for _ in range(128):
        if pos >= len(data):
            raise ValueError("truncated name")
        n = data[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + n
    raise ValueError("name too long")


def _read_name(data: bytes, pos: int) -> str:
    labels: list[str] = []
    for _ in range(64):  # bounded: a pointer loop cannot hang us
        if pos >= len(data):
            raise ValueError("truncated name")
        n = data[pos]
        if n == 0:
            break
        if n & 0xC0 == 0xC0:
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            continue
        labels.append(data[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n
    return ".".join(labels)


def parse_dns_response(data: bytes, qid: int | None) -> dict[str, object] | None:
    """{rcode, answers: [(type, rdata-as-text)]} for a DNS response to our query, or None."""
    if len(data) < 12:
        return None
    rid, flags, qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", data)
    if not flags & 0x8000 or (qid is not None and rid != qid):
        return None
    answers: list[tuple[int, str]] = []
    try:
        pos = 12
        for _ in range(min(qd, 8)):
            pos = _skip_name(data, pos) + 4
        for _ in range(min(an, 32)):
            pos = _skip_name(data, pos)
            rtype, _rclass, _ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
            pos += 10
            rdata = data[pos:pos + rdlen]
            if rtype == 16:  # TXT
                texts, p = [], 0
                while p < len(rdata):
                    texts.append(rdata[p + 1:p + 1 + rdata[p]].decode("latin-1"))
                    p += 1 + rdata[p]
                answers.append((rtype, " ".join(texts)))
            elif rtype in (12, 2, 5):  # PTR, NS, CNAME
                answers.append((rtype, _read_name(data, pos)))
            else:
                answers.append((rtype, rdata.hex()))
            pos += rdlen
    except (ValueError, struct.error, IndexError):
        pass
    return {"rcode": flags & 0x000F, "answers": answers}


_VERSION_TXT = re.compile(r"^([A-Za-z][\w.+]*?)[- /]v?(\d[\w.\-+]*)$")


def _product_from_version_txt(txt: str) -> tuple[str | None, str | None]:
    m = _VERSION_TXT.match(txt.strip())
    if m:
        return m.group(1), m.group(2)
    return (txt.strip()[:80] or None), None


# -- SSDP -----------------------------------------------------------------------------------------
def msearch(host: str, port: int) -> bytes:
    return (f"M-SEARCH * HTTP/1.1\r\nHOST: {host}:{port}\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n"
            "ST: ssdp:all\r\nUSER-AGENT: probe/0.1 UPnP/1.1 probe/0.1\r\n\r\n").encode()


_HEADER = re.compile(rb"(?im)^([a-z0-9\-]+):[ \t]*([^\r\n]*)")


def parse_ssdp_response(data: bytes) -> dict[str, str] | None:
    if not (data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200") or data.startswith(b"NOTIFY ")):
        return None
    return {k.decode("latin-1").lower(): v.decode("latin-1").strip() for k, v in _HEADER.findall(data[:4096])}


# -- the exchange ---------------------------------------------------------------------------------
def _exchange(host: str, port: int, request: bytes, accept: Callable[[bytes], bool], *, timeout: float,
              attempts: int, many: bool = False) -> tuple[str, list[bytes]]:
    """Send `request` up to `attempts` times.

    ('open', replies) | ('closed', []) on ICMP port unreachable | ('unreachable', []) when there is
    no route | ('no-answer', []).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    replies: list[bytes] = []
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((host, port))  # only datagrams from host:port are delivered; ICMP errors surface
        except OSError:
            return "unreachable", []
        for _ in range(max(1, attempts)):
            try:
                s.send(request)
            except ConnectionRefusedError:
                return "closed", []
            except OSError:
                return "unreachable", []
            end = time.monotonic() + timeout
            while len(replies) < MAX_REPLIES:
                left = end - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([s], [], [], left)
                if not ready:
                    break
                try:
                    data = s.recv(MAX_DATAGRAM)
                except ConnectionRefusedError:
                    return ("open", replies) if replies else ("closed", [])
                except OSError:
                    break
                if accept(data):
                    replies.append(data)
                    if not many:
                        return "open", replies
                    end = min(end, time.monotonic() + 0.3)  # more SSDP answers come close together
            if replies:
                return "open", replies
    return "no-answer", []


def probe_snmp(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    res = UdpResult(port, "no-answer")
    for version, label in ((1, "SNMPv2c"), (0, "SNMPv1")):
        rid = int.from_bytes(os.urandom(3), "big")
        req = snmp_get_request("public", version, rid)

        def answers_request(d: bytes, r: int = rid) -> bool:
            return (parse_snmp_response(d) or {}).get("request_id") == r

        state, replies = _exchange(host, port, req, answers_request, timeout=timeout, attempts=attempts)
        if state in ("closed", "unreachable"):
            res.state = state
            return res
        if state == "open":
            res.state, res.protocol = "open", "snmp"
            res.exchanges.append(UdpExchange(f"{label} GET sysDescr.0 community=public", req, replies))
            parsed = parse_snmp_response(replies[0]) or {}
            res.detail[f"{label.lower()}_public"] = "accepted" if parsed.get("error_status") == 0 else \
                f"error-status {parsed.get('error_status')}"
            value = parsed.get("value")
            if isinstance(value, bytes) and "sysdescr" not in res.detail:
                res.detail["sysdescr"] = value[:256].decode("utf-8", "replace")
    return res


def _dns_question(host: str, port: int, name: str, qtype: int, qclass: int, protocol: str, label: str,
                  timeout: float, attempts: int) -> tuple[UdpResult, dict[str, Any]]:
    """Ask one DNS-format question (DNS and unicast mDNS share the wire format); the result is
    open with the exchange recorded only when an answer to our query ID came back."""
    qid = int.from_bytes(os.urandom(2), "big")
    req = dns_query(qid, name, qtype, qclass)
    state, replies = _exchange(host, port, req, lambda d: parse_dns_response(d, qid) is not None,
                               timeout=timeout, attempts=attempts)
    res = UdpResult(port, state)
    if state != "open":
        return res, {}
    res.protocol = protocol
    res.exchanges.append(UdpExchange(label, req, replies))
    return res, parse_dns_response(replies[0], qid) or {}


def probe_dns(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    res, parsed = _dns_question(host, port, "version.bind", 16, 3, "dns", "DNS version.bind CH TXT",
                                timeout, attempts)
    if res.state == "open":
        res.detail["rcode"] = str(parsed.get("rcode"))
        for rtype, text in parsed.get("answers", []):
            if rtype == 16:
                res.detail["version.bind"] = text
                res.product, res.version = _product_from_version_txt(text)
                break
    return res


def probe_mdns(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    res, parsed = _dns_question(host, port, "_services._dns-sd._udp.local", 12, 1, "mdns",
                                "mDNS unicast _services._dns-sd._udp.local PTR", timeout, attempts)
    names = [t for rtype, t in parsed.get("answers", []) if rtype == 12]
    if names:
        res.detail["service_types"] = ", ".join(names[:32])
    return res


def probe_ssdp(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    req = msearch(host, port)
    state, replies = _exchange(host, port, req, lambda d: parse_ssdp_response(d) is not None,
                               timeout=timeout, attempts=attempts, many=True)
    res = UdpResult(port, state)
    if state == "open":
        res.protocol = "ssdp"
        res.exchanges.append(UdpExchange("SSDP unicast M-SEARCH ssdp:all", req, replies))
        headers = parse_ssdp_response(replies[0]) or {}
        if headers.get("server"):
            from probe.discovery.identify import product_from_server

            res.product, res.version = product_from_server(headers["server"][:200])
            res.detail["server"] = headers["server"]
        if headers.get("location"):
            res.detail["location"] = headers["location"]
    return res


PROBES: dict[str, Callable[[str, int, float, int], UdpResult]] = {
    "snmp": probe_snmp, "dns": probe_dns, "mdns": probe_mdns, "ssdp": probe_ssdp,
}
PORT_PROTOCOL = {161: "snmp", 53: "dns", 5353: "mdns", 1900: "ssdp"}


def probe_port(host: str, port: int, *, timeout: float = 1.0, attempts: int = 2) -> UdpResult:
    """Probe one UDP port: its well-known protocol, or (an odd port) each probe once in turn."""
    first = PORT_PROTOCOL.get(port)
    order = [first] if first else ["dns", "snmp", "ssdp", "mdns"]
    result = UdpResult(port, "no-answer")
    for i, proto in enumerate(order):
        # a well-known port gets its own probe with retransmission; the fallbacks are tried once
        r = PROBES[proto](host, port, timeout, attempts if i == 0 else 1)
        if r.state in ("open", "closed", "unreachable"):
            return r
        result = r
    return result
