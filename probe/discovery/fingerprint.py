"""Identify what runs on one open TCP port, with a few short connections.

Order: listen for a greeting (SSH, FTP, telnet speak first; a console shows its prompt); on a port
with no well-known protocol that stayed silent, one empty line (a console that waits for Enter
shows its prompt; nothing else is ever typed into something that may be a shell); then a TLS
ClientHello; if not TLS, an HTTP request (an RTSP OPTIONS on the RTSP ports); if still nothing, an
MQTT CONNECT; on port 53 or a port nothing else identified, a DNS version.bind query over TCP, an
RTSP OPTIONS and an SMB2 NEGOTIATE (SMB goes first on 139/445). ADB (adbd, client-first) gets its
CNXN first on 5555 and, on a port nothing else identified, after the TLS and HTTP probes (so a
stalling port pays only SILENT_WAIT for it); the CNXN opens no stream. Every answer read is kept as an
artefact so the identification itself is evidence, and what was tried is recorded
(`Fingerprint.tried`), so an unidentified port says what it did not answer. Product and version
come from what the service says (SSH software version, FTP greeting, HTTP/RTSP Server header,
version.bind), never from the port number.

Speed without typing into a shell: on a port whose well-known protocol is client-first (HTTP,
TLS, MQTT, DNS, SMB, RTSP, ADB ports) the first probe of the order is sent on a second connection
while the first one waits for a greeting. A whole, recognised answer to that probe ends the
greeting wait at once (a client-first service never greets), so an HTTP or TLS port costs one
round trip instead of the full greeting wait. On a port with no well-known protocol (where a
silent service may be a console) only the one empty line goes beside the greeting wait, when the
device has a spare connection slot: a console shows its prompt, and an HTTP or RTSP server
answers it with a status line, which proves the port client-first and ends the greeting wait
too; anything else is still only sent after the greeting wait. Answers are read until they are
whole (an HTTP/RTSP response with its Content-Length body, the first bytes of a non-TLS answer to
the ClientHello) rather than until a keep-alive server goes idle. Every answer is kept per port
and reused: a probe already answered is never sent again.
A port that stays silent to the greeting wait and to two client-first probes has shown that it
stalls: the probes after that wait SILENT_WAIT, not the full timeout, so one stalling port no
longer costs a device's identification 20 s.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from probe.discovery import identify
from probe.protocols import adb, console, dns, mqtt, smb, tls_hello
from probe.protocols.netio import read_some
from probe.protocols.tlswrap import permissive_context


@dataclass
class Fingerprint:
    protocol: str
    tls: bool
    product: str | None
    version: str | None
    confidence: str  # banner | handshake | port
    banner: bytes  # first bytes the service sent (greeting or probe answer)
    banner_kind: str  # greeting | <probe>-probe (tls, http, rtsp, mqtt, dns, smb, newline) | none
    tried: tuple[str, ...] = ()  # what was tried, in order: greeting, then the probes sent


# Any TLS server answers this hello (ServerHello or alert): TLS 1.3 with 1.2, 1.1 and 1.0 also offered,
# modern and legacy suites. Built by the one ClientHello builder, protocols.tls_hello.
_TLS_ANY = (tls_hello.VERSIONS["TLSv1.2"], tls_hello.VERSIONS["TLSv1.1"], tls_hello.VERSIONS["TLSv1.0"])
_TLS_SUITES = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
               0x009C, 0x009D, 0x002F, 0x0035, 0x000A, 0x0005]


def _client_hello() -> bytes:
    return tls_hello.build_client_hello(tls_hello.VERSIONS["TLSv1.3"], _TLS_SUITES, also=_TLS_ANY)


_MQTT_CONNECT = mqtt.connect_packet("probe-disc", keepalive=10)  # clean session, no credentials
_RTSP_PORTS = (554, 8554)
_SMB_PORTS = (139, 445)
_RTSP_OPTIONS = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: probe\r\n\r\n"
_HTTP_GET = b"GET / HTTP/1.0\r\nUser-Agent: probe\r\n\r\n"


Track = Callable[[socket.socket], AbstractContextManager[socket.socket]]
# A second connection slot, if the device has one free right now (DeviceLimiter.spare): yields
# True when it is held, False when not (then everything runs on the one slot already held).
Spare = Callable[[], AbstractContextManager[bool]]


@contextlib.contextmanager
def _no_tracking(sock: socket.socket) -> Iterator[socket.socket]:
    yield sock


class _Budget:
    """Clips every timeout to the run's deadline and stops between steps after an interrupt."""

    def __init__(self, timeout: float, deadline: float | None, cancel: threading.Event | None,
                 track: Track | None) -> None:
        self.timeout, self.deadline, self.cancel = timeout, deadline, cancel
        self.track = track or _no_tracking

    def shortened(self, timeout: float) -> _Budget:
        """The same deadline and interrupt, with a shorter per-probe timeout."""
        return _Budget(min(self.timeout, timeout), self.deadline, self.cancel, self.track)

    def stopped(self) -> bool:
        return bool(self.cancel and self.cancel.is_set()) or (
            self.deadline is not None and time.monotonic() > self.deadline)

    def clip(self, wanted: float) -> float:
        if self.deadline is None:
            return wanted
        return max(0.05, min(wanted, self.deadline - time.monotonic()))

    @contextlib.contextmanager
    def connect(self, host: str, port: int) -> Iterator[socket.socket]:
        sock = socket.create_connection((host, port), timeout=self.clip(self.timeout))
        try:
            sock.settimeout(self.clip(self.timeout))
            with self.track(sock):
                yield sock
        finally:
            with contextlib.suppress(OSError):
                sock.close()


SILENT_PROBES = 2  # client-first probes with no answer at all after which a port counts as stalling
SILENT_WAIT = 1.0  # seconds each further probe then waits (instead of the full timeout)

ADB_PORT = 5555  # adbd's TCP port (`adb tcpip 5555`, `service.adb.tcp.port`)
_HTTP_FIRST_PORTS = frozenset({80, 1900, 2869, 5000, 7547, 8000, 8008, 8080, 8081, 8888, 49152, 49153, 49154})


def probe_order(port: int) -> list[str]:
    """Which probes to try after the greeting, most likely first, so a port costs 2-3 connections.

    The port number only orders the probes; it never decides the protocol.
    """
    if port == 53:
        order = ["dns", "tls", "http", "mqtt"]
    elif port in _SMB_PORTS:
        order = ["smb", "tls", "http"]
    elif port == 1883:
        order = ["mqtt", "tls", "http"]
    elif port in _RTSP_PORTS:
        order = ["rtsp", "tls", "http"]
    elif port in _HTTP_FIRST_PORTS:
        order = ["http", "tls", "mqtt"]
    elif port == ADB_PORT:
        order = ["adb", "tls", "http", "mqtt"]
    else:
        order = ["tls", "http", "mqtt"]
        if port not in identify.PORT_GUESS:
            # an unknown port may be a resolver (nmap asks the same question), a stream server or
            # a file share moved off its port; a silent one may be a console waiting for Enter, or
            # adbd moved off 5555 (client-first, silent to everything but its CNXN). The CNXN goes
            # after TLS and HTTP: on a port that stalled for those it waits only SILENT_WAIT, and an
            # adbd answers it at once.
            order = ["newline", "tls", "http", "adb", "mqtt", "dns", "rtsp", "smb"]
    return order


_Probe = Callable[[str, int, "_Budget", int], tuple["Fingerprint | None", bytes]]
# the client-first protocols whose well-known port lets the first probe go out beside the greeting
# wait: none of them is a console, so nothing is ever typed into something that may be a shell
_CLIENT_FIRST_GUESSES = frozenset({"http", "https", "upnp", "mqtt", "mqtts", "dns", "smb", "rtsp", "adb"})


def early_probe(port: int) -> str | None:
    """The probe sent beside the greeting wait on this port, or None (the greeting is awaited alone).

    On ports whose well-known protocol is client-first (a console never sits there): the first
    probe of the port's order. On a port with no well-known protocol: the one empty line, the only
    thing ever typed into something that may be a shell (a console waiting for Enter shows its
    prompt; an HTTP or RTSP server answers it with a status line, which ends the greeting wait).
    On the ports of server-first protocols (SSH, FTP, telnet, SMTP): nothing, they greet.
    """
    if identify.PORT_GUESS.get(port) in _CLIENT_FIRST_GUESSES or port in _HTTP_FIRST_PORTS:
        first = probe_order(port)[0]
        return None if first == "newline" else first
    if port not in identify.PORT_GUESS:
        return "newline"
    return None


def _proves_client_first(name: str, found: Fingerprint | None, data: bytes) -> bool:
    """A recognised whole answer to a client-first probe: the service waits for its client and
    will not greet, so there is nothing more to wait for on the greeting connection. An HTTP or
    RTSP status line in answer to the empty line proves it as well: such a server only ever
    answers a request."""
    if found is not None and found.confidence == "handshake":
        return True
    return name == "newline" and identify.from_http_response(data)[0] is not None


def _wait_greeting(s: socket.socket, b: _Budget, wait: float, max_bytes: int,
                   answered: threading.Event | None, tick: Callable[[], object] | None = None) -> bytes:
    """The greeting, if the service speaks first within `wait`; returns early (with nothing) once
    `answered` is set, i.e. the probe beside it proved the service is client-first. `tick` is
    called every slice until the first byte (it starts the probe beside, once it can)."""
    end = time.monotonic() + b.clip(wait)
    if answered is not None:
        while True:  # bounded by `end`: 50 ms slices until a first byte, the probe's proof, or the end
            if tick is not None:
                tick()
            left = end - time.monotonic()
            if left <= 0 or answered.is_set() or b.stopped():
                return b""
            readable, _, _ = select.select([s], [], [], min(0.05, left))
            if readable:
                break
    left = end - time.monotonic()
    if left <= 0:
        return b""
    return read_some(s, max_bytes=max_bytes, total_timeout=left, idle_timeout=0.3,
                     complete=identify.greeting_complete).data


def fingerprint(host: str, port: int, *, timeout: float = 3.0, greeting_wait: float = 1.2,
                max_bytes: int = 16384, deadline: float | None = None, cancel: threading.Event | None = None,
                track: Track | None = None, spare: Spare | None = None) -> Fingerprint:
    """Identify the service; raises OSError only if the port cannot be connected at all.

    `deadline`/`cancel` bound the whole identification (a stalling port would otherwise cost every
    probe's full timeout); when they cut it short, the port number's guess is returned. `track`
    registers each socket (DeviceLimiter.tracked) so an interrupt can shut it down. `spare` lends a
    second connection slot for the early probe (see the module docstring); without one, or when
    none is free, the steps run one after another as before.
    """
    b = _Budget(timeout, deadline, cancel, track)
    probes: dict[str, _Probe] = {"tls": _probe_tls, "http": _probe_http, "rtsp": _probe_rtsp, "mqtt": _probe_mqtt,
                                 "dns": _probe_dns, "smb": _probe_smb, "newline": _probe_newline,
                                 "adb": _probe_adb}
    done: dict[str, tuple[Fingerprint | None, bytes] | OSError] = {}  # each probe's answer, asked once
    early = early_probe(port) if spare is not None else None
    if early is None or spare is None:
        with b.connect(host, port) as s:
            greeting = _wait_greeting(s, b, greeting_wait, max_bytes, None)
    else:
        greeting = _greeting_beside_probe(host, port, b, greeting_wait, max_bytes, early, probes[early], spare, done)
    if greeting:
        proto, product, version = identify.from_banner(greeting)
        if proto == "ftp" and product:
            product, version = identify.product_from_ftp(product)
        if proto:
            return Fingerprint(proto, False, product, version, "banner", greeting, "greeting", ("greeting", *done))
    answers: list[tuple[str, bytes]] = []
    tried = ["greeting"]
    silent = 0  # client-first probes the port let pass without a single byte back
    for name in probe_order(port):
        if name not in done and b.stopped():
            break
        if name == "newline" and greeting:
            # it spoke first and was not a prompt: an empty line tells nothing more (one sent
            # beside the greeting wait is recorded as tried, its answer is not used)
            if name in done:
                tried.append(name)
            continue
        tried.append(name)
        if name not in done:
            # a port that said nothing to the greeting wait and to SILENT_PROBES client-first
            # questions has shown what it does (it stalls): the rest are asked with a short wait,
            # since a service that answers does so at once on a LAN
            quiet = silent >= SILENT_PROBES and not greeting
            try:
                done[name] = probes[name](host, port, b.shortened(SILENT_WAIT) if quiet else b, max_bytes)
            except OSError as exc:
                done[name] = exc
        answer = done[name]
        if isinstance(answer, OSError):
            continue
        found, data = answer
        if found is not None:
            found.tried = tuple(tried)
            return found
        if data:
            answers.append((name, data))
        elif name != "newline":
            silent += 1
    return _port_guess(port, greeting, answers, tuple(tried))


def _greeting_beside_probe(host: str, port: int, b: _Budget, wait: float, max_bytes: int, name: str,
                           probe: _Probe, spare: Spare,
                           done: dict[str, tuple[Fingerprint | None, bytes] | OSError]) -> bytes:
    """Wait for a greeting on one connection while `probe` runs on a second, once a slot is free.

    A recognised answer to the probe ends the greeting wait and goes into `done`, so it is not
    asked again. The greeting connection is closed before the probe is waited for: a
    single-threaded server (openssl s_server, many embedded web servers) serves one connection at
    a time and answers the probe only then. A probe that got no answer at all is forgotten and
    asked again in order, on its own. Raises OSError when the port cannot be connected at all.
    """
    answered = threading.Event()
    result: list[tuple[Fingerprint | None, bytes] | OSError] = []

    def run_probe() -> None:
        try:
            answer: tuple[Fingerprint | None, bytes] | OSError = probe(host, port, b, max_bytes)
        except OSError as exc:
            answer = exc
        result.append(answer)
        if not isinstance(answer, OSError) and _proves_client_first(name, answer[0], answer[1]):
            answered.set()

    worker: threading.Thread | None = None

    with contextlib.ExitStack() as stack:
        def start_when_a_slot_is_free() -> None:
            # polled while the greeting is awaited: the probe goes out as soon as the second slot
            # is free (at once when it was taken with the first), never once the port has spoken
            nonlocal worker
            if worker is not None:
                return
            lent = spare()
            if not lent.__enter__():
                lent.__exit__(None, None, None)
                return
            stack.push(lent.__exit__)
            worker = threading.Thread(target=run_probe, name=f"probe-{port}-{name}", daemon=True)
            worker.start()

        with b.connect(host, port) as s:
            try:
                greeting = _wait_greeting(s, b, wait, max_bytes, answered, start_when_a_slot_is_free)
            except BaseException:
                if worker is not None:
                    worker.join()
                raise
        if worker is None:
            return greeting
        worker.join()  # bounded: every read in a probe has the budget's timeouts
    answer = result[0] if result else OSError("probe did not run")
    if not isinstance(answer, OSError) and (answer[0] is not None or answer[1]):
        done[name] = answer  # it answered: that answer stands for the port
    return greeting


def _port_guess(port: int, greeting: bytes, answers: list[tuple[str, bytes]], tried: tuple[str, ...]) -> Fingerprint:
    guess = identify.PORT_GUESS.get(port, "unknown")
    if greeting:
        data, kind = greeting, "greeting"
    elif answers:
        data, kind = answers[0][1], f"{answers[0][0]}-probe"
    else:
        data, kind = b"", "none"
    return Fingerprint(guess, False, None, None, "port", data, kind, tried)


def _exchange(host: str, port: int, b: _Budget, request: bytes, max_bytes: int,
              complete: Callable[[bytes], bool] | None = None) -> bytes:
    """Send `request`, read the answer: until the server closes or goes idle, or (`complete`) as
    soon as the answer is whole, so a keep-alive server does not cost the idle wait."""
    with b.connect(host, port) as s:
        s.sendall(request)
        return read_some(s, max_bytes=max_bytes, total_timeout=b.clip(b.timeout), idle_timeout=0.5,
                         complete=complete).data


def _probe_tls(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[Fingerprint | None, bytes]:
    # a plaintext answer is discarded (below), so it is not waited for past its first bytes
    data = _exchange(host, port, b, _client_hello(), max_bytes, complete=identify.shows_not_tls)
    if not identify.looks_like_tls_server_reply(data):
        return None, b""  # a plaintext service's complaint about our ClientHello is not evidence of anything
    proto = identify.TLS_PROTOCOL_FOR_PORT.get(port)
    product = version = None
    if not identify.is_whole_tls_reply(data):
        # the start of a TLS record, then nothing (or a reset): TLS-looking, but no handshake was
        # seen, so what the port carries stays its number's guess (confidence "port": no role)
        return Fingerprint(proto or identify.PORT_GUESS.get(port, "tls"), True, None, None, "port", data,
                           "tls-probe"), data
    if proto is None:
        proto, server = ("tls", None) if b.stopped() else _http_over_tls(host, port, b, max_bytes)
        product, version = identify.product_from_server(server)
    return Fingerprint(proto, True, product, version, "handshake", data, "tls-probe"), data


def _from_http_like(port: int, data: bytes, kind: str) -> Fingerprint | None:
    proto, server = identify.from_http_response(data)
    if not proto:
        return None
    if proto == "http" and (port in (1900, 5000, 49152) or b"upnp" in data[:2000].lower()):
        proto = "upnp" if port != 80 else "http"
    product, version = identify.product_from_server(server)
    return Fingerprint(proto, False, product, version, "handshake", data, kind)


def _probe_http(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[Fingerprint | None, bytes]:
    # RTSP servers also answer a GET with an RTSP status line, which from_http_response recognises
    data = _exchange(host, port, b, _HTTP_GET, max_bytes, complete=identify.http_answer_complete)
    return _from_http_like(port, data, "http-probe"), data


def _probe_rtsp(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[Fingerprint | None, bytes]:
    data = _exchange(host, port, b, _RTSP_OPTIONS, max_bytes, complete=identify.http_answer_complete)
    return _from_http_like(port, data, "rtsp-probe"), data


def _probe_mqtt(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[Fingerprint | None, bytes]:
    with b.connect(host, port) as s:
        s.sendall(_MQTT_CONNECT)
        data = read_some(s, max_bytes=64, total_timeout=b.clip(b.timeout), idle_timeout=0.5).data
        if identify.looks_like_mqtt_connack(data):
            try:
                s.sendall(mqtt.DISCONNECT)  # so no session is left behind
            except OSError:
                pass
            return Fingerprint("mqtt", False, None, None, "handshake", data, "mqtt-probe"), data
    return None, data


def _probe_smb(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[Fingerprint | None, bytes]:
    """One SMB2 NEGOTIATE (asks nothing, changes nothing): a file share answers with the SMB magic."""
    data = _exchange(host, port, b, smb.negotiate_request(), 4096, complete=identify.framed_answer_complete(4))
    dialect = identify.from_smb_reply(data)
    if dialect is None:
        return None, data
    return Fingerprint("smb", False, None, f"SMB {dialect}" if dialect else None, "handshake", data,
                       "smb-probe"), data


def _probe_newline(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[Fingerprint | None, bytes]:
    """One empty line to a port that stayed silent: a console waiting for Enter shows its prompt."""
    with b.connect(host, port) as s:
        s.sendall(b"\r\n")
        data = read_some(s, max_bytes=4096, total_timeout=b.clip(min(b.timeout, 1.0)), idle_timeout=0.3).data
    if console.looks_like_prompt(data):
        return Fingerprint("console", False, None, None, "handshake", data, "newline-probe"), data
    return None, data


def _probe_adb(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[Fingerprint | None, bytes]:
    """One ADB CNXN (asks nothing, opens no stream): adbd answers CNXN (its banner) or AUTH."""
    with b.connect(host, port) as s:
        s.sendall(adb.connect_message())
        raw: list[bytes] = []
        try:
            msg = adb.read_message(s, time.monotonic() + b.clip(b.timeout), raw)
        except (adb.AdbError, OSError):
            return None, b"".join(raw)
    data = b"".join(raw)
    if msg.command == adb.CNXN or (msg.command == adb.AUTH and msg.arg0 == adb.AUTH_TOKEN):
        props = adb.banner_fields(msg.payload) if msg.command == adb.CNXN else {}
        product = props.get("ro.product.model") or props.get("ro.product.name")
        return Fingerprint("adb", False, product, None, "handshake", data, "adb-probe"), data
    return None, data


def _probe_dns(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[Fingerprint | None, bytes]:
    """DNS over TCP: version.bind CH TXT (a device's resolver or forwarder)."""
    qid, q = identify.dns_version_query()
    data = _exchange(host, port, b, dns.tcp_frame(q), 4096, complete=identify.framed_answer_complete(2))
    parsed = identify.from_dns_tcp_reply(data, qid)
    if parsed is None:
        return None, data
    product, version = parsed
    return Fingerprint("dns", False, product, version, "handshake", data, "dns-probe"), data


def _http_over_tls(host: str, port: int, b: _Budget, max_bytes: int) -> tuple[str, str | None]:
    ctx = permissive_context()
    try:
        with b.connect(host, port) as raw, ctx.wrap_socket(raw) as s:
            s.sendall(_HTTP_GET)
            r = read_some(s, max_bytes=max_bytes, total_timeout=b.clip(b.timeout), idle_timeout=0.5,
                          complete=identify.http_answer_complete)
    except (OSError, ssl.SSLError):
        return "tls", None
    proto, server = identify.from_http_response(r.data)
    return ("https" if proto == "http" else "tls"), server
