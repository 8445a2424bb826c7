"""UDP discovery: one harmless, protocol-correct request per port, because UDP has no handshake.

A UDP port only shows itself by answering a datagram it understands, so each probe is a real
request of its protocol: SNMP GET sysDescr.0 with community "public" (v2c and v1) and an SNMPv3
engine-discovery GET, each asked on its own; a unicast SSDP M-SEARCH to the target's own address
(never multicast: from the root namespace that would leave the machine); a unicast mDNS query for
`_services._dns-sd._udp.local` PTR; a DNS `version.bind` CH TXT query; a NAT-PMP external-address
request; a TFTP read request for a file name that cannot exist; an NTP client request and a
mode-6 READVAR (the system variables); a unicast WS-Discovery Probe; a CoAP GET of
/.well-known/core; the Ubiquiti discovery request. Every one reads and changes nothing, and goes to
the target's own address only (never a broadcast or multicast group). The messages are built and
parsed by probe.protocols (snmp, ssdp, dns, natpmp, tftp, ntp, wsdiscovery, coap, ubnt); this
module only sends them, through a connected socket (probe.protocols.udpio) so that an ICMP port
unreachable shows as "closed" instead of silence (TFTP answers from a port of its own, so its
exchange is in probe.protocols.tftp).

Every answer is kept verbatim; an SNMP v1/v2c answer also proves that the community "public" is
accepted, which the unauthenticated-access checks rely on, and an SNMPv3 Report proves an agent
is listening even when it answers no community.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from probe.discovery import identify
from probe.protocols import coap, dns, natpmp, ntp, snmp, ssdp, tftp, ubnt, udpio, wsdiscovery
from probe.protocols.udpio import Ask as _Ask
from probe.protocols.udpio import exchange_each as _exchange_each


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
    """Send `request` up to `attempts` times (probe.protocols.udpio, the one UDP exchange).

    ('open', replies) | ('closed', []) on ICMP port unreachable | ('unreachable', []) when there is
    no route | ('no-answer', []). `many`: keep up to udpio.MAX_REPLIES answers (SSDP), waiting 0.3 s past
    the latest one rather than the whole timeout.
    """
    if many:
        return udpio.ask(host, port, request, accept, timeout=timeout, attempts=attempts,
                         done=lambda replies: False, settle=0.3)  # udpio keeps at most MAX_REPLIES
    return udpio.ask(host, port, request, accept, timeout=timeout, attempts=attempts)


def _v3_report(data: bytes, msg_id: int) -> snmp.EngineReport | None:
    try:
        report = snmp.parse_v3_message(data)
    except (ValueError, IndexError):
        return None
    return report if report.msg_id == msg_id else None


def probe_snmp(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    """SNMP asked three ways, each on its own: v2c and v1 GET sysDescr.0 with community "public",
    and SNMPv3 engine discovery (no credentials). An agent may answer one version and not another,
    and a v1/v2c agent stays silent to a community it does not know, so an agent whose communities
    are not "public" (or that speaks only v3) is found by its v3 Report, which names its engine ID."""
    res = UdpResult(port, "no-answer")
    rids = {1: int.from_bytes(os.urandom(3), "big"), 0: int.from_bytes(os.urandom(3), "big")}
    msg_id = int.from_bytes(os.urandom(3), "big")
    asks = []
    for version, label in ((1, "SNMPv2c"), (0, "SNMPv1")):
        def answers(d: bytes, r: int = rids[version], v: int = version) -> bool:
            parsed = parse_snmp_response(d) or {}
            return parsed.get("request_id") == r and parsed.get("version") == v
        asks.append(_Ask(f"{label} GET sysDescr.0 community=public", snmp_get_request("public", version, rids[version]),
                         answers))
    asks.append(_Ask("SNMPv3 engine discovery (GET, empty engine ID and user)", snmp.v3_discovery_message(msg_id),
                     lambda d: _v3_report(d, msg_id) is not None))
    res.state = _exchange_each(host, port, asks, timeout=timeout, attempts=attempts)
    if res.state != "open":
        return res
    res.protocol = "snmp"
    for ask, key in zip(asks[:2], ("snmpv2c_public", "snmpv1_public"), strict=True):
        if not ask.replies:
            res.detail[key] = "no answer"
            continue
        res.exchanges.append(UdpExchange(ask.label, ask.request, ask.replies))
        parsed = parse_snmp_response(ask.replies[0]) or {}
        status = parsed.get("error_status")
        res.detail[key] = "accepted" if status == 0 else f"error-status {status}"
        value = parsed.get("value")
        if isinstance(value, bytes) and "sysdescr" not in res.detail:
            res.detail["sysdescr"] = value[:256].decode("utf-8", "replace")
    v3 = asks[2]
    report = _v3_report(v3.replies[0], msg_id) if v3.replies else None
    if report is None:
        res.detail["snmpv3"] = "no answer"
    else:
        res.exchanges.append(UdpExchange(v3.label, v3.request, v3.replies))
        res.detail["snmpv3"] = "answered engine discovery"
        res.detail["snmpv3_engine_id"] = report.engine_id.hex()
        res.detail["snmpv3_engine"] = report.describe()
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


# One question per device and SSDP port: discovery's UDP probe and the UPnP survey of the checks
# (probe.services.upnp, read by upnp_exposure, update_mechanism, update_channel and
# model_designation) share the answer through the target's memo (TargetSession.once), so the
# device is asked once and nobody waits for its answers twice.
Once = Callable[[object, Callable[[], ssdp.Search]], ssdp.Search]


def ssdp_memo_key(port: int) -> tuple[str, int]:
    return ("ssdp-search", port)


def shared_ssdp_search(once: Once, host: str, port: int, *, listen: float, resend: bool = True,
                       slot: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
                       check_cancelled: Callable[[], None] | None = None) -> ssdp.Search:
    """The device's answers to one unicast M-SEARCH on `port`, asked once per target.

    `once` is the target's memo (TargetSession.once / CheckContext.once); the first caller asks
    (inside `slot`, one of the device's connection slots) and every later one reads the same
    answers, so the artefacts cite one exchange. The search ends when the answer is complete
    (ssdp.search: a closed port at once, answers after their burst), `listen` bounds silence.
    """
    def ask() -> ssdp.Search:
        with slot():
            return ssdp.search(host, port, listen=listen, max_answers=MAX_SSDP_ANSWERS,
                               check_cancelled=check_cancelled, resend=resend)
    return once(ssdp_memo_key(port), ask)


MAX_SSDP_ANSWERS = 32


def probe_ssdp(host: str, port: int, timeout: float, attempts: int,
               search: Callable[[float, bool], ssdp.Search] | None = None) -> UdpResult:
    """A unicast M-SEARCH ssdp:all; `search(listen, resend)` is the shared question
    (shared_ssdp_search) when discovery runs for a target, else the search is made here."""
    listen, resend = timeout * max(1, attempts), attempts > 1
    heard = search(listen, resend) if search is not None else ssdp.search(
        host, port, listen=listen, max_answers=MAX_SSDP_ANSWERS, resend=resend)
    replies = [a for a in heard.answers if ssdp.parse(a).is_answer][:udpio.MAX_REPLIES]
    state = "open" if replies else "closed" if heard.closed else "unreachable" if heard.error else "no-answer"
    res = UdpResult(port, state)
    if state == "open":
        res.protocol = "ssdp"
        res.exchanges.append(UdpExchange("SSDP unicast M-SEARCH ssdp:all", heard.request, replies))
        answer = ssdp.parse(replies[0])
        server, location = answer.get("server"), answer.get("location")
        if server:
            res.product, res.version = identify.product_from_server(server[:200])
            res.detail["server"] = server
        if location:
            res.detail["location"] = location
    return res


def _natpmp_answer(data: bytes) -> natpmp.Answer | None:
    try:
        return natpmp.parse(data)
    except natpmp.NatPmpError:
        return None


def probe_natpmp(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    """NAT-PMP external-address request (RFC 6886 3.2): read-only, two bytes. Any well-formed
    answer, whatever its result code, identifies a NAT-PMP (or PCP) port-mapping server."""
    req = natpmp.EXTERNAL_ADDRESS_REQUEST
    state, replies = _exchange(host, port, req, lambda d: _natpmp_answer(d) is not None, timeout=timeout,
                               attempts=attempts)
    res = UdpResult(port, state)
    if state == "open":
        answer = natpmp.parse(replies[0])
        res.protocol = "nat-pmp"
        res.exchanges.append(UdpExchange("NAT-PMP external address request (version 0, opcode 0)", req, replies))
        res.detail["natpmp_result"] = f"{answer.result} {answer.result_name}"
        res.detail["natpmp_epoch_s"] = str(answer.epoch)
        if answer.external_address:
            res.detail["natpmp_external_address"] = answer.external_address
    return res


def probe_tftp(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    """TFTP read request for a random file name that cannot exist. Any TFTP answer (normally
    ERROR 1 "File not found") proves a server; the server answers from a port of its own, so the
    exchange is in probe.protocols.tftp (an unconnected socket, only the target's datagrams)."""
    name = f"probe-{os.urandom(6).hex()}.txt"
    ex = tftp.read_first_block(host, name, port=port, timeout=timeout, attempts=attempts)
    res = UdpResult(port, "unreachable" if ex.error else "closed" if ex.refused else "no-answer")
    if ex.answer is None or ex.reply is None:
        return res
    res.state, res.protocol = "open", "tftp"
    res.exchanges.append(UdpExchange(f"TFTP read request for {name!r} (a name that cannot exist)", ex.request,
                                     [ex.reply]))
    res.detail["tftp_answer"] = ex.answer.describe()
    res.detail["tftp_transfer_port"] = str(ex.server_port)
    return res


def probe_ntp(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    """An NTP client request (mode 3) and a control READVAR (mode 6) for the system variables, each
    on its own: a server may answer time and refuse control queries (`restrict ... noquery`).
    Both are read-only (probe.protocols.ntp says why mode 7 is not sent)."""
    request, xmt = ntp.client_request()
    seq = int.from_bytes(os.urandom(2), "big")
    asks = [_Ask("NTP client request (mode 3)", request, lambda d: ntp.parse_server(d, xmt) is not None),
            _Ask("NTP control READVAR, association 0 (mode 6, opcode 2)", ntp.readvar_request(seq),
                 lambda d: ntp.parse_control(d, seq) is not None, done=ntp.readvar_done(seq))]
    res = UdpResult(port, _exchange_each(host, port, asks, timeout=timeout, attempts=attempts))
    if res.state != "open":
        return res
    res.protocol = "ntp"
    time_ask, ctl = asks
    if time_ask.replies:
        res.exchanges.append(UdpExchange(time_ask.label, time_ask.request, time_ask.replies))
        answer = ntp.parse_server(time_ask.replies[0], xmt)
        res.detail["ntp_server"] = answer.describe() if answer else "answered"
    else:
        res.detail["ntp_server"] = "no answer"
    frags = [f for f in (ntp.parse_control(r, seq) for r in ctl.replies) if f]
    if not frags:
        res.detail["ntp_mode6"] = "no answer"
        return res
    res.exchanges.append(UdpExchange(ctl.label, ctl.request, ctl.replies))
    if any(f.error for f in frags):
        res.detail["ntp_mode6"] = "answered with an error (control queries refused)"
        return res
    data, complete = ntp.assemble(frags)
    variables = ntp.variables(data.decode("latin-1"))
    res.detail["ntp_mode6"] = "answered READVAR" + ("" if complete else " (some fragments missing)")
    res.detail["ntp_variables"] = ", ".join(f"{k}={v}" for k, v in list(variables.items())[:24])[:1500]
    version = variables.get("version", "")
    if version:
        res.detail["ntp_version"] = version
        res.product, res.version = ntp.product_version(version[:200])
    if variables.get("system"):
        res.detail["ntp_system"] = variables["system"][:200]
    return res


def probe_wsdiscovery(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    """Two unicast WS-Discovery Probes (any type, and wsdp:Device), each matched by its MessageID."""
    asks = []
    for types in (None, "wsdp:Device"):
        msg, mid = wsdiscovery.probe_message(types)

        def answers(d: bytes, m: str = mid) -> bool:
            matches = wsdiscovery.parse_matches(d)
            return matches is not None and matches.relates_to == m
        asks.append(_Ask(f"WS-Discovery unicast Probe ({types or 'any type'})", msg, answers))
    res = UdpResult(port, _exchange_each(host, port, asks, timeout=timeout, attempts=attempts))
    if res.state != "open":
        return res
    res.protocol = "ws-discovery"
    for ask in asks:
        if ask.replies:
            res.exchanges.append(UdpExchange(ask.label, ask.request, ask.replies))
    first = wsdiscovery.parse_matches(res.exchanges[0].replies[0])
    if first:
        m = first.matches[0]
        res.detail.update({k: v for k, v in (("wsd_endpoint", m.endpoint), ("wsd_types", " ".join(m.types)),
                                            ("wsd_xaddrs", " ".join(m.xaddrs)), ("wsd_scopes", " ".join(m.scopes)))
                           if v})
    return res


def probe_coap(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    """CoAP GET /.well-known/core: the server's resource list (RFC 6690), or its refusal."""
    ex = coap.get(host, port, "/.well-known/core", timeout=timeout, attempts=attempts)
    res = UdpResult(port, ex.state)
    if ex.state != "open":
        return res
    res.protocol = "coap"
    res.exchanges.append(UdpExchange("CoAP GET /.well-known/core", ex.request, ex.replies))
    answer = ex.response
    if answer is None:
        res.detail["coap_answer"] = "acknowledged, no response yet"
        return res
    res.detail["coap_answer"] = "RST (reset)" if answer.type == coap.RST else answer.code_text
    if answer.code == 0x45:
        found = coap.links(answer.payload)
        res.detail["coap_resources"] = ", ".join(link.target for link in found[:30])
        if answer.more_blocks:
            res.detail["coap_resources_truncated"] = "more blocks offered; only the first was read"
    return res


def probe_ubnt(host: str, port: int, timeout: float, attempts: int) -> UdpResult:
    """The Ubiquiti discovery request (4 bytes): a device that answers lists its identifiers."""
    state, replies, parsed = ubnt.ask(host, port, timeout=timeout, attempts=attempts)
    res = UdpResult(port, state)
    if state != "open":
        return res
    res.protocol = "ubnt-discovery"
    res.exchanges.append(UdpExchange("Ubiquiti discovery request (version 1, 01 00 00 00)", ubnt.REQUEST, replies))
    if parsed:
        res.detail.update({f"ubnt_{k}": v for k, v in list(parsed.fields.items())[:16]})
        model = parsed.fields.get("model") or parsed.fields.get("platform")
        if model:
            res.product = model[:80]
        if parsed.fields.get("firmware"):
            res.version = parsed.fields["firmware"][:80]
    return res


PROBES: dict[str, Callable[[str, int, float, int], UdpResult]] = {
    "snmp": probe_snmp, "dns": probe_dns, "mdns": probe_mdns, "ssdp": probe_ssdp, "nat-pmp": probe_natpmp,
    "tftp": probe_tftp, "ntp": probe_ntp, "ws-discovery": probe_wsdiscovery, "coap": probe_coap,
    "ubnt-discovery": probe_ubnt,
}
PORT_PROTOCOL = {161: "snmp", 53: "dns", 5353: "mdns", 1900: "ssdp", natpmp.PORT: "nat-pmp", tftp.PORT: "tftp",
                 ntp.PORT: "ntp", wsdiscovery.PORT: "ws-discovery", coap.PORT: "coap", ubnt.PORT: "ubnt-discovery"}
FALLBACK_ORDER = ["dns", "snmp", "ssdp", "mdns", "nat-pmp", "ntp", "coap", "ws-discovery", "ubnt-discovery", "tftp"]


def probe_port(host: str, port: int, *, timeout: float = 1.0, attempts: int = 2,
               ssdp_search: Callable[[float, bool], ssdp.Search] | None = None) -> UdpResult:
    """Probe one UDP port: its well-known protocol, or (an odd port) each probe once in turn.

    `ssdp_search(listen, resend)`: the target's shared SSDP question (shared_ssdp_search), if any."""
    first = PORT_PROTOCOL.get(port)
    order = [first] if first else FALLBACK_ORDER
    result = UdpResult(port, "no-answer")
    for i, proto in enumerate(order):
        # a well-known port gets its own probe with retransmission; the fallbacks are tried once
        tries = attempts if i == 0 else 1
        if proto == "ssdp":
            r = probe_ssdp(host, port, timeout, tries, search=ssdp_search)
        else:
            r = PROBES[proto](host, port, timeout, tries)
        if r.state in ("open", "closed", "unreachable"):
            return r
        result = r
    return result
