"""UDP discovery: one harmless, protocol-correct request per port, because UDP has no handshake.

A UDP port only shows itself by answering a datagram it understands, so each probe is a real
request of its protocol: SNMP GET sysDescr.0 with community "public" (v2c, then v1), a unicast SSDP
M-SEARCH to the target's own address (never multicast: from the root namespace that would leave
the machine), a unicast mDNS query for `_services._dns-sd._udp.local` PTR, and a DNS
`version.bind` CH TXT query. The messages are built and parsed by probe.protocols (snmp, ssdp,
dns); this module only sends them, through a connected socket so that an ICMP port unreachable
shows as "closed" instead of silence.

Every answer is kept verbatim; an SNMP answer also proves that the community "public" is accepted,
which the unauthenticated-access checks rely on.
"""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from probe.discovery import identify
from probe.protocols import dns, snmp, ssdp

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
                  timeout: float, attempts: int) -> tuple[UdpResult, dns.Response | None]:
    """Ask one DNS-format question (DNS and unicast mDNS share the wire format); the result is
    open with the exchange recorded only when an answer to our query ID came back."""
    qid = dns.random_id()
    req = dns.query(qid, name, qtype, qclass)
    state, replies = _exchange(host, port, req, lambda d: dns.parse_response(d, qid) is not None,
                               timeout=timeout, attempts=attempts)
    res = UdpResult(port, state)
    if state != "open":
        return res, None
    res.protocol = protocol
    res.exchanges.append(UdpExchange(label, req, replies))
    return res, dns.parse_response(replies[0], qid)


def probe_dns(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    res, reply = _dns_question(host, port, dns.VERSION_BIND, dns.TXT, dns.CH, "dns", "DNS version.bind CH TXT",
                               timeout, attempts)
    if reply is not None:
        res.detail["rcode"] = str(reply.rcode)
        text = reply.first(dns.TXT)
        if text is not None:
            res.detail["version.bind"] = text
            res.product, res.version = identify.product_from_version_txt(text)
    return res


def probe_mdns(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    res, reply = _dns_question(host, port, dns.MDNS_SERVICES, dns.PTR, dns.IN, "mdns",
                               "mDNS unicast _services._dns-sd._udp.local PTR", timeout, attempts)
    names = reply.all(dns.PTR) if reply is not None else []
    if names:
        res.detail["service_types"] = ", ".join(names[:32])
    return res


def probe_ssdp(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    req = ssdp.msearch(host, port)
    state, replies = _exchange(host, port, req, lambda d: ssdp.parse(d).is_answer,
                               timeout=timeout, attempts=attempts, many=True)
    res = UdpResult(port, state)
    if state == "open":
        res.protocol = "ssdp"
        res.exchanges.append(UdpExchange("SSDP unicast M-SEARCH ssdp:all", req, replies))
        answer = ssdp.parse(replies[0])
        server, location = answer.get("server"), answer.get("location")
        if server:
            res.product, res.version = identify.product_from_server(server[:200])
            res.detail["server"] = server
        if location:
            res.detail["location"] = location
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
