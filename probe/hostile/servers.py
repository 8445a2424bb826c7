"""Purpose-built misbehaving servers: one misbehaviour each, bound where the caller says.

probe talks to devices that may be broken or hostile: firmware that floods, stalls, resets in the
middle of a handshake, or puts terminal escape sequences in its banners. These servers reproduce
each misbehaviour on its own so that a test (or the lab's `hostile` variant) can prove probe keeps
working, stays within its time and memory bounds and loses no evidence.

Each server is a small threaded TCP server taking `(host, port)`; nothing here picks addresses.
A connection never outlives `stop()`: the listener and every open socket are shut down. Where a
real daemon can be configured to misbehave the same way, the tests use the real daemon instead
(see docs/hostile.md); these cover what no daemon will do on purpose.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import select
import socket
import struct
import threading
import time
from typing import ClassVar

# Terminal escape sequences a hostile device may put in anything it sends: clear screen, set the
# window title, a hyperlink (OSC 8), write the clipboard (OSC 52), and a C1 CSI.
ESCAPES = (b"\x1b[2J\x1b[H"  # clear screen, cursor home
           b"\x1b]0;PWNED-TITLE\x07"  # window title
           b"\x1b]8;;http://198.51.100.7/\x1b\\click\x1b]8;;\x1b\\"  # hyperlink
           b"\x1b]52;c;cm0gLXJmIH4=\x07"  # clipboard := "rm -rf ~"
           b"\xc2\x9b31m")  # C1 CSI (UTF-8 encoded U+009B)
MARKUP = b"<script>alert('probe')</script><img src=x onerror=alert(1)>&lt;&amp;"
HOSTILE_TEXT = MARKUP + ESCAPES

MAX_CLIENTS = 32  # per server: a probe makes a handful of connections; a runaway loop must not fork us to death
SEND_CHUNK = 16384


def _rst_close(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends a TCP RST instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class HostileServer:
    """A TCP server whose `handle()` misbehaves in exactly one way.

    Subclasses set `name` (stable, used by tests and the lab variant), `looks_like` (the protocol
    discovery should identify, or "unknown") and `misbehaviour` (one line for docs and logs).
    """

    name: ClassVar[str] = ""
    looks_like: ClassVar[str] = "unknown"
    misbehaviour: ClassVar[str] = ""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.connections = 0  # accepted so far (tests use it to prove probe connected)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> HostileServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        lst = socket.socket(family, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind((self.host, self.port))
        lst.listen(16)
        lst.settimeout(0.2)
        self.port = lst.getsockname()[1]  # port 0 means "any free port"
        self._listener = lst
        self._thread = threading.Thread(target=self._accept_loop, name=f"hostile-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        if self._listener:
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                if len(self._conns) >= MAX_CLIENTS:
                    _rst_close(conn)
                    continue
                self._conns.add(conn)
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30.0)  # a client that vanishes must not pin a thread forever
        try:
            self.handle(conn)
        except OSError:
            pass  # the client went away: that is its right
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    # -- helpers for handlers -----------------------------------------------------------------
    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def idle(self, conn: socket.socket, seconds: float = 60.0) -> None:
        """Keep the connection open, reading and discarding, until the client leaves or we stop."""
        end = time.monotonic() + seconds
        conn.settimeout(0.2)
        while not self._stop.is_set() and time.monotonic() < end:
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue

    def stall(self, conn: socket.socket) -> None:
        """Never read, never send: the client's data piles up in our receive buffer.

        Ends when the client has gone (POLLRDHUP/POLLHUP: the peer closed, seen without reading
        anything), so a long-running lab device does not collect one stalled thread per probe
        connection until MAX_CLIENTS turns every later client away with a reset.
        """
        poller = select.poll()
        poller.register(conn, getattr(select, "POLLRDHUP", 0x2000) | select.POLLHUP | select.POLLERR)
        while not self._stop.is_set():
            if poller.poll(200):
                return

    def flood(self, conn: socket.socket, chunks: itertools.cycle | None = None, data: bytes = b"") -> None:
        """Send forever (until the client closes or we stop)."""
        conn.settimeout(10.0)
        source = chunks or itertools.repeat(data)
        for chunk in source:
            if self._stop.is_set():
                return
            conn.sendall(chunk)

    def read_request(self, conn: socket.socket, end: bytes = b"\r\n\r\n", limit: int = 65536) -> bytes:
        """Read the client's request up to `end` (bounded; a partial request is returned)."""
        buf = bytearray()
        conn.settimeout(5.0)
        while end not in buf and len(buf) < limit and not self._stop.is_set():
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            buf += chunk
        return bytes(buf)


def _garbage(n: int, seed: int = 8) -> bytes:
    """Deterministic binary junk: invalid UTF-8, NULs, control bytes and escape sequences."""
    rnd = random.Random(seed)
    out = bytearray(b"\x00\x8f\xfe")  # never starts with 0xFF (telnet IAC) or a printable protocol word
    while len(out) < n:
        out += bytes(rnd.randrange(256) for _ in range(61)) + ESCAPES[: rnd.randrange(1, len(ESCAPES))]
    return bytes(out[:n])


# ---------------------------------------------------------------------------------------------
# Raw misbehaviours (no protocol)
# ---------------------------------------------------------------------------------------------

class GarbageBanner(HostileServer):
    name = "garbage-banner"
    misbehaviour = "sends 4 KiB of binary garbage (invalid UTF-8, NULs, escape sequences) as its greeting"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(_garbage(4096))
        self.idle(conn, 20)


class EndlessStream(HostileServer):
    name = "endless-stream"
    misbehaviour = "starts sending binary data on connect and never stops"

    def handle(self, conn: socket.socket) -> None:
        self.flood(conn, data=_garbage(SEND_CHUNK, seed=9))


class Stall(HostileServer):
    name = "stall"
    misbehaviour = "accepts the connection, then never reads, never sends and never closes"

    def handle(self, conn: socket.socket) -> None:
        self.stall(conn)


# ---------------------------------------------------------------------------------------------
# FTP-looking: discovery identifies FTP from "220", then the check meets the misbehaviour
# ---------------------------------------------------------------------------------------------

class FtpGarbage(HostileServer):
    name = "ftp-garbage"
    looks_like = "ftp"
    misbehaviour = "FTP greeting code 220 followed by binary garbage and no line end, ever"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"220 " + _garbage(2048, seed=11).replace(b"\n", b"."))
        self.idle(conn, 30)


class FtpEndlessGreeting(HostileServer):
    name = "ftp-endless-greeting"
    looks_like = "ftp"
    misbehaviour = "multi-line FTP greeting (220-) that never ends"

    def handle(self, conn: socket.socket) -> None:
        line = b"220-" + b"welcome " * 16 + b"\r\n"
        self.flood(conn, data=line * (SEND_CHUNK // len(line)))


class FtpStallAfterGreeting(HostileServer):
    name = "ftp-stall"
    looks_like = "ftp"
    misbehaviour = "valid FTP greeting, then stalls: never answers a command"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"220 hostile FTP ready\r\n")
        self.stall(conn)


class FtpMarkup(HostileServer):
    name = "ftp-markup"
    looks_like = "ftp"
    misbehaviour = "FTP greeting and replies carrying HTML/JS markup and terminal escape sequences"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"220 " + HOSTILE_TEXT + b" FTP ready\r\n")
        req = self.read_request(conn, b"\r\n", 1024)
        if req.upper().startswith(b"USER"):
            conn.sendall(b"331 " + HOSTILE_TEXT + b" password please\r\n")
        self.idle(conn, 10)


# ---------------------------------------------------------------------------------------------
# Telnet-looking
# ---------------------------------------------------------------------------------------------

class TelnetNegotiationFlood(HostileServer):
    name = "telnet-negotiation-flood"
    looks_like = "telnet"
    misbehaviour = "telnet option negotiation (IAC DO/WILL) that never ends and never shows a prompt"

    def handle(self, conn: socket.socket) -> None:
        block = b"".join(bytes([255, cmd, opt]) for opt in range(256) for cmd in (253, 251))
        self.flood(conn, data=block)


class TelnetMarkup(HostileServer):
    name = "telnet-markup"
    looks_like = "telnet"
    misbehaviour = "telnet greeting and login prompt carrying markup and terminal escape sequences"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"\xff\xfb\x01\xff\xfb\x03" + HOSTILE_TEXT + b"\r\nhostile login: ")
        self.idle(conn, 20)


# ---------------------------------------------------------------------------------------------
# SSH-looking
# ---------------------------------------------------------------------------------------------

class SshBannerOnly(HostileServer):
    name = "ssh-banner-only"
    looks_like = "ssh"
    misbehaviour = "sends an SSH version banner, then nothing (no KEXINIT), reading and discarding input"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-HostileSSH_0.1\r\n")
        self.idle(conn, 60)


class SshResetMidBanner(HostileServer):
    name = "ssh-reset"
    looks_like = "unknown"
    misbehaviour = "sends the first bytes of an SSH banner ('SSH-2.0-Op'), then resets the connection (RST)"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-Op")
        time.sleep(0.05)
        _rst_close(conn)


class SshMarkupBanner(HostileServer):
    name = "ssh-markup"
    looks_like = "ssh"
    misbehaviour = "SSH version banner whose software field carries markup and escape sequences"

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"SSH-2.0-Evil" + HOSTILE_TEXT.replace(b" ", b"_") + b"\r\n")
        self.idle(conn, 30)


# ---------------------------------------------------------------------------------------------
# TLS: hand-built records, because no TLS library will send these on purpose
# ---------------------------------------------------------------------------------------------

def _u24(n: int) -> bytes:
    return struct.pack("!I", n)[1:]


def _records(content_type: int, payload: bytes, version: bytes = b"\x03\x03") -> bytes:
    out = bytearray()
    for i in range(0, max(len(payload), 1), SEND_CHUNK):
        frag = payload[i:i + SEND_CHUNK]
        out += bytes([content_type]) + version + struct.pack("!H", len(frag)) + frag
    return bytes(out)


def _offered_cipher(client_hello: bytes) -> int:
    """The first non-TLS-1.3 suite the client offered (bounded parse), or AES128-SHA."""
    try:
        body = client_hello[9:]  # record header (5) + handshake header (4)
        sid_len = body[34]
        pos = 35 + sid_len
        n = struct.unpack("!H", body[pos:pos + 2])[0]
        suites = [struct.unpack("!H", body[pos + 2 + i:pos + 4 + i])[0] for i in range(0, min(n, 512), 2)]
        return next(s for s in suites if s >> 8 != 0x13 and s not in (0x00FF, 0x5600))
    except (IndexError, struct.error, StopIteration):
        return 0x002F


def server_hello(cipher: int) -> bytes:
    body = b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack("!H", cipher) + b"\x00"
    return b"\x02" + _u24(len(body)) + body


def certificate_message(certs: list[bytes]) -> bytes:
    chain = b"".join(_u24(len(c)) + c for c in certs)
    body = _u24(len(chain)) + chain
    return b"\x0b" + _u24(len(body)) + body


SERVER_HELLO_DONE = b"\x0e\x00\x00\x00"

# DER that claims a 65,535-byte SEQUENCE but holds 120 bytes, then a wrong tag: unparseable.
MALFORMED_CERT = b"\x30\x82\xff\xff\x30\x82\x00\x10\xa0\x03\x02\x01\x02\x02\x09" + _garbage(105, seed=13)


class TlsResetMidHandshake(HostileServer):
    name = "tls-reset"
    looks_like = "unknown"
    misbehaviour = "reads the ClientHello, sends 7 bytes of a ServerHello record, then resets (RST)"

    def handle(self, conn: socket.socket) -> None:
        hello = self.read_request(conn, b"\x00", 4096)  # any bytes will do; don't wait for more
        if not hello:
            self.idle(conn, 5)
            return
        full = _records(0x16, server_hello(_offered_cipher(hello)))
        conn.sendall(full[:7])
        time.sleep(0.05)
        _rst_close(conn)


class TlsMalformedCertificate(HostileServer):
    name = "tls-malformed-cert"
    looks_like = "tls"
    misbehaviour = "answers a ClientHello with a ServerHello and a Certificate message holding unparseable DER"

    def handle(self, conn: socket.socket) -> None:
        hello = self.read_request(conn, b"\x00", 4096)
        if not hello or hello[0] != 0x16:
            self.idle(conn, 5)
            return
        flight = server_hello(_offered_cipher(hello)) + certificate_message([MALFORMED_CERT]) + SERVER_HELLO_DONE
        conn.sendall(_records(0x16, flight))
        self.idle(conn, 20)


class TlsHugeCertificate(HostileServer):
    name = "tls-huge-cert"
    looks_like = "tls"
    misbehaviour = ("answers a ClientHello with a ServerHello and a Certificate message declaring 16 MiB, "
                    "then streams it in 16 KiB records")

    HUGE = 0xFFFFF0  # just under the 24-bit handshake length limit

    def handle(self, conn: socket.socket) -> None:
        hello = self.read_request(conn, b"\x00", 4096)
        if not hello or hello[0] != 0x16:
            self.idle(conn, 5)
            return
        cert_len = self.HUGE - 6
        head = server_hello(_offered_cipher(hello)) + b"\x0b" + _u24(self.HUGE) + _u24(self.HUGE - 3) + _u24(cert_len)
        head += b"\x30\x83" + _u24(cert_len - 5)  # a DER SEQUENCE as long as the certificate
        conn.sendall(_records(0x16, head))
        filler = _records(0x16, b"\x41" * SEND_CHUNK)
        sent = 0
        conn.settimeout(10.0)
        while sent < cert_len and not self._stop.is_set():
            conn.sendall(filler)
            sent += SEND_CHUNK


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

class HttpHugeHeaders(HostileServer):
    name = "http-huge-headers"
    looks_like = "http"
    misbehaviour = "HTTP response whose header section never ends (endless X-Pad headers)"

    def handle(self, conn: socket.socket) -> None:
        self.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nServer: hostile-huge-headers\r\n")
        lines = itertools.cycle([b"X-Pad-%04d: " % i + b"A" * 1000 + b"\r\n" for i in range(16)])
        self.flood(conn, chunks=lines)


class HttpEndlessChunked(HostileServer):
    name = "http-endless-chunked"
    looks_like = "http"
    misbehaviour = "HTTP response with Transfer-Encoding: chunked whose body never ends"

    def handle(self, conn: socket.socket) -> None:
        self.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nServer: hostile-chunked\r\nContent-Type: text/html\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n<html><head><title>endless</title></head><body>")
        chunk = b"1000\r\n" + b"<p>" + b"x" * (0x1000 - 7) + b"</p>\r\n"
        self.flood(conn, data=chunk)


def _xml_escape(data: bytes) -> bytes:
    return data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")


UPNP_DESCRIPTION = (
    b'<?xml version="1.0"?>\r\n<root xmlns="urn:schemas-upnp-org:device-1-0">'
    b"<specVersion><major>1</major><minor>0</minor></specVersion><device>"
    b"<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>"
    b"<friendlyName>" + _xml_escape(HOSTILE_TEXT) + b"</friendlyName>"
    b"<manufacturer>\x1b]0;UPnP-TITLE\x07Hostile</manufacturer>"
    b"<modelName><![CDATA[<script>alert('upnp')</script>\x1b[2J]]></modelName>"
    b"<modelNumber>\x1b]52;c;cm0gLXJmIH4=\x07</modelNumber>"
    b"<UDN>uuid:00000000-0000-0000-0000-000000000000</UDN></device></root>\r\n"
)


class HttpMarkup(HostileServer):
    """Answers every path; /rootDesc.xml is a UPnP device description with hostile fields."""

    name = "http-markup"
    looks_like = "upnp"
    misbehaviour = ("HTTP/UPnP server whose Server header, HTML <title> and UPnP description carry markup "
                    "and terminal escape sequences")

    def handle(self, conn: socket.socket) -> None:
        req = self.read_request(conn)
        path = req.split(b" ", 2)[1] if req.count(b" ") >= 2 else b"/"
        if path.startswith(b"/rootDesc.xml") or path.startswith(b"/description"):
            body, ctype = UPNP_DESCRIPTION, b"text/xml"
        else:
            body = (b"<html><head><title>" + HOSTILE_TEXT + b"</title></head><body>" + MARKUP +
                    b"</body></html>")
            ctype = b"text/html"
        head = (b"HTTP/1.1 200 OK\r\nServer: Linux UPnP/1.0 " + HOSTILE_TEXT.replace(b"\r", b"").replace(b"\n", b"")
                + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: " + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n")
        conn.sendall(head + body)


# ---------------------------------------------------------------------------------------------

SERVERS: tuple[type[HostileServer], ...] = (
    GarbageBanner, EndlessStream, Stall,
    FtpGarbage, FtpEndlessGreeting, FtpStallAfterGreeting, FtpMarkup,
    TelnetNegotiationFlood, TelnetMarkup,
    SshBannerOnly, SshResetMidBanner, SshMarkupBanner,
    TlsResetMidHandshake, TlsMalformedCertificate, TlsHugeCertificate,
    HttpHugeHeaders, HttpEndlessChunked, HttpMarkup,
)
BY_NAME: dict[str, type[HostileServer]] = {cls.name: cls for cls in SERVERS}


def start_all(host: str, base_port: int = 0, names: list[str] | None = None) -> list[HostileServer]:
    """Start every server (or the named ones) on host; ports base_port, base_port+1, ... (0: any free)."""
    chosen = [BY_NAME[n] for n in names] if names else list(SERVERS)
    started: list[HostileServer] = []
    try:
        for i, cls in enumerate(chosen):
            started.append(cls(host, base_port + i if base_port else 0).start())
    except BaseException:
        for s in started:
            s.stop()
        raise
    return started
