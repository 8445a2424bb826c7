"""Identify what runs on one open TCP port, with at most four short connections.

Order: listen for a greeting (SSH, FTP, telnet speak first); if silent, send a TLS ClientHello;
if not TLS, an HTTP request (an RTSP OPTIONS on the RTSP ports); if still nothing, an MQTT CONNECT;
last, on port 53 or a port nothing else identified, a DNS version.bind query over TCP. Every answer
read is kept as an artefact so the identification itself is evidence. Product and version come from
what the service says (SSH software version, FTP greeting, HTTP/RTSP Server header, version.bind),
never from the port number.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
from dataclasses import dataclass

from ..netio import read_some
from . import identify


@dataclass
class Fingerprint:
    protocol: str
    tls: bool
    product: str | None
    version: str | None
    confidence: str  # banner | handshake | port
    banner: bytes  # first bytes the service sent (greeting or probe answer)
    banner_kind: str  # greeting | tls-probe | http-probe | rtsp-probe | mqtt-probe | dns-probe | none


def _client_hello() -> bytes:
    """A TLS 1.2-style ClientHello that TLS 1.0-1.3 servers all answer (ServerHello or alert)."""
    ciphers = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014,
               0x009C, 0x009D, 0x002F, 0x0035, 0x000A, 0x0005]
    ext = b""
    groups = struct.pack("!HHHH", 6, 0x001D, 0x0017, 0x0018)
    ext += struct.pack("!HH", 0x000A, len(groups)) + groups
    ext += struct.pack("!HHB", 0x000B, 2, 1) + b"\x00"
    sigs = struct.pack("!H", 16) + struct.pack("!8H", 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0201, 0x0203)
    ext += struct.pack("!HH", 0x000D, len(sigs)) + sigs
    versions = struct.pack("!B4H", 8, 0x0304, 0x0303, 0x0302, 0x0301)
    ext += struct.pack("!HH", 0x002B, len(versions)) + versions
    ks = struct.pack("!HH", 0x001D, 32) + os.urandom(32)
    ext += struct.pack("!HHH", 0x0033, len(ks) + 2, len(ks)) + ks
    body = (b"\x03\x03" + os.urandom(32) + b"\x20" + os.urandom(32)
            + struct.pack("!H", len(ciphers) * 2) + struct.pack(f"!{len(ciphers)}H", *ciphers)
            + b"\x01\x00" + struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


_MQTT_CONNECT = (b"\x10\x16\x00\x04MQTT\x04\x02\x00\x0a\x00\x0aprobe-disc")  # clean session, no auth
_RTSP_PORTS = (554, 8554)
_RTSP_OPTIONS = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: probe\r\n\r\n"
_HTTP_GET = b"GET / HTTP/1.0\r\nUser-Agent: probe\r\n\r\n"


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def fingerprint(host: str, port: int, *, timeout: float = 3.0, greeting_wait: float = 1.2,
                max_bytes: int = 16384) -> Fingerprint:
    """Identify the service; raises OSError only if the port cannot be connected at all."""
    # 1. greeting
    with _connect(host, port, timeout) as s:
        r = read_some(s, max_bytes=max_bytes, total_timeout=greeting_wait, idle_timeout=0.3)
    if r.data:
        proto, product, version = identify.from_banner(r.data)
        if proto == "ftp" and product:
            product, version = identify.product_from_ftp(product)
        if proto:
            return Fingerprint(proto, False, product, version, "banner", r.data, "greeting")
    greeting = r.data
    # 2. TLS
    try:
        with _connect(host, port, timeout) as s:
            s.sendall(_client_hello())
            tr = read_some(s, max_bytes=max_bytes, total_timeout=timeout, idle_timeout=0.5)
    except OSError:
        tr = None
    if tr and identify.looks_like_tls_server_reply(tr.data):
        proto = identify.TLS_PROTOCOL_FOR_PORT.get(port)
        product = version = None
        if proto is None:
            proto, server = _http_over_tls(host, port, timeout, max_bytes)
            product, version = identify.product_from_server(server)
        return Fingerprint(proto, True, product, version, "handshake", tr.data, "tls-probe")
    # 3. HTTP, or RTSP OPTIONS on the RTSP ports (RTSP servers also answer a GET with an RTSP line)
    rtsp_first = port in _RTSP_PORTS
    try:
        with _connect(host, port, timeout) as s:
            s.sendall(_RTSP_OPTIONS if rtsp_first else _HTTP_GET)
            hr = read_some(s, max_bytes=max_bytes, total_timeout=timeout, idle_timeout=0.5)
    except OSError:
        hr = None
    if hr and hr.data:
        proto, server = identify.from_http_response(hr.data)
        if proto:
            if proto == "http" and (port in (1900, 5000, 49152) or b"upnp" in hr.data[:2000].lower()):
                proto = "upnp" if port != 80 else "http"
            product, version = identify.product_from_server(server)
            return Fingerprint(proto, False, product, version, "handshake", hr.data,
                               "rtsp-probe" if rtsp_first else "http-probe")
    # 4. MQTT
    try:
        with _connect(host, port, timeout) as s:
            s.sendall(_MQTT_CONNECT)
            mr = read_some(s, max_bytes=64, total_timeout=timeout, idle_timeout=0.5)
            if identify.looks_like_mqtt_connack(mr.data):
                s.sendall(b"\xe0\x00")  # DISCONNECT, so no session is left behind
                return Fingerprint("mqtt", False, None, None, "handshake", mr.data, "mqtt-probe")
    except OSError:
        pass
    # 5. DNS over TCP (a device's resolver/forwarder): version.bind CH TXT, as nmap's own probe asks
    if port == 53 or port not in identify.PORT_GUESS:
        try:
            with _connect(host, port, timeout) as s:
                q = identify.dns_version_query()
                s.sendall(struct.pack("!H", len(q)) + q)
                dr = read_some(s, max_bytes=4096, total_timeout=timeout, idle_timeout=0.5)
            parsed = identify.from_dns_tcp_reply(dr.data, q[:2])
            if parsed is not None:
                product, version = parsed
                return Fingerprint("dns", False, product, version, "handshake", dr.data, "dns-probe")
        except OSError:
            pass
    guess = identify.PORT_GUESS.get(port, "unknown")
    data = greeting or (hr.data if hr else b"")
    return Fingerprint(guess, False, None, None, "port", data, "greeting" if greeting else "none")


def _http_over_tls(host: str, port: int, timeout: float, max_bytes: int) -> tuple[str, str | None]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    except (ssl.SSLError, ValueError):
        pass
    try:
        with _connect(host, port, timeout) as raw, ctx.wrap_socket(raw) as s:
            s.sendall(b"GET / HTTP/1.0\r\nUser-Agent: probe\r\n\r\n")
            r = read_some(s, max_bytes=max_bytes, total_timeout=timeout, idle_timeout=0.5)
    except (OSError, ssl.SSLError):
        return "tls", None
    proto, server = identify.from_http_response(r.data)
    return ("https" if proto == "http" else "tls"), server
