"""Protocol identification from what a service says first, or answers to a harmless probe.

Port numbers are only a last resort: devices move services around (admin UIs on 8080, SSH on
2222), and a check that trusts the port would test the wrong protocol.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from probe.protocols import console, dns, smb

# Well-known ports, used only when a service stays silent and answers no probe.
PORT_GUESS: dict[int, str] = {
    21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "dns", 80: "http", 161: "snmp",
    139: "smb", 443: "https", 445: "smb", 554: "rtsp", 1883: "mqtt", 1900: "ssdp", 2323: "telnet", 5000: "upnp",
    5353: "mdns", 5555: "adb", 7547: "http", 8080: "http", 8443: "https", 8883: "mqtts",
}

TLS_PROTOCOL_FOR_PORT = {443: "https", 8443: "https", 8883: "mqtts", 993: "tls", 995: "tls"}

_SSH = re.compile(rb"^SSH-(\d+\.\d+)-(\S+)")
_FTP = re.compile(rb"^220[ -]")
_SMTP_HINT = re.compile(rb"(?i)smtp|esmtp|postfix|exim")
_HTTP = re.compile(rb"^HTTP/\d(\.\d)? \d{3}")
_RTSP = re.compile(rb"^RTSP/1\.\d \d{3}")
_SERVER = re.compile(rb"(?im)^server:\s*([^\r\n]{1,120})")


def greeting_complete(data: bytes) -> bool:
    """A greeting identification already has whole, so the wait for more can end: an SSH
    identification line (RFC 4253 4.2) or an FTP/SMTP greeting's final `220 ` line (after any
    `220-` continuation lines). Other greetings (telnet negotiation, a console prompt) have no end
    marker: their read ends when the service goes idle, as before."""
    if data.startswith(b"SSH-"):
        return b"\n" in data
    if _FTP.match(data):
        return any(line.startswith(b"220 ") for line in data.split(b"\n")[:-1])
    return False


def from_banner(banner: bytes) -> tuple[str | None, str | None, str | None]:
    """(protocol, product, version) from an unsolicited greeting, or Nones."""
    if not banner:
        return None, None, None
    m = _SSH.match(banner)
    if m:
        software = m.group(2).decode("ascii", "replace")
        product, _, version = software.partition("_")
        return "ssh", product or software, version or None
    if banner[0] == 0xFF:  # telnet IAC option negotiation
        return "telnet", None, None
    if _FTP.match(banner):
        if _SMTP_HINT.search(banner[:200]):
            return "smtp", None, None
        return "ftp", banner[4:80].decode("ascii", "replace").strip() or None, None
    low = banner[:200].lower()
    if b"login:" in low or b"username:" in low or b"password:" in low:
        return "telnet", None, None
    if console.looks_like_prompt(banner):  # a shell-like prompt before anything was sent: a console
        return "console", None, None
    return None, None, None


def from_smb_reply(data: bytes) -> str | None:
    """The SMB dialect of a reply to smb.negotiate_request(), or None if it is not SMB."""
    return smb.parse_negotiate_reply(data)


def from_http_response(resp: bytes) -> tuple[str | None, str | None]:
    """('http' or 'rtsp', Server header) if the bytes look like a response to our probe."""
    if _HTTP.match(resp):
        m = _SERVER.search(resp)
        return "http", (m.group(1).decode("latin-1").strip() if m else None)
    if _RTSP.match(resp):
        m = _SERVER.search(resp)
        return "rtsp", (m.group(1).decode("latin-1").strip() if m else None)
    return None, None


_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d{1,9})[ \t]*$")


def http_answer_complete(data: bytes) -> bool:
    """A whole HTTP or RTSP response: the header block has ended and, with a Content-Length, that
    many bytes of body are in. An RTSP response without Content-Length has no body (RFC 2326
    12.14), nor has an HTTP 1xx/204/304; any other HTTP response without one runs until the
    server closes, so it is never complete here (the read then ends as before: close or idle)."""
    if not (_HTTP.match(data) or _RTSP.match(data)):
        return False
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    m = _CONTENT_LENGTH.search(data[:end])
    if m:
        return len(data) - (end + 4) >= int(m.group(1))
    if _RTSP.match(data):
        return True
    status = int(data.split(b" ", 2)[1][:3])
    return 100 <= status < 200 or status in (204, 304)


def framed_answer_complete(header: int) -> Callable[[bytes], bool]:
    """A whole first message of a length-framed protocol: `header` 4 is SMB's NetBIOS session
    header (a zero byte, then a 3-byte length), `header` 2 is DNS over TCP (a 2-byte length)."""
    def complete(data: bytes) -> bool:
        if len(data) < header:
            return False
        length = int.from_bytes(data[1:4] if header == 4 else data[:2], "big")
        return len(data) >= header + length
    return complete


def shows_not_tls(data: bytes) -> bool:
    """The first bytes already show that no TLS record is coming (a plaintext service's complaint
    about a ClientHello): nothing more needs to be read to know it."""
    return bool(data) and (data[0] not in (0x15, 0x16) or (len(data) >= 3 and not looks_like_tls_server_reply(data)))


def looks_like_tls_server_reply(data: bytes) -> bool:
    """A TLS record from the server: handshake (0x16) or alert (0x15) with a 3.x version."""
    return len(data) >= 3 and data[0] in (0x15, 0x16) and data[1] == 0x03 and data[2] <= 0x04


def is_whole_tls_reply(data: bytes) -> bool:
    """A whole first TLS record: a handshake record starting with a ServerHello, or an alert record
    with its two bytes. A few bytes that start a record and break off (a server that resets
    mid-ServerHello) look like TLS but prove no handshake: the port's protocol stays a guess."""
    if not looks_like_tls_server_reply(data) or len(data) < 5:
        return False
    length = int.from_bytes(data[3:5], "big")
    if data[0] == 0x15:
        return length == 2 and len(data) >= 7
    return length >= 4 and len(data) >= 5 + min(length, 16384) and data[5] == 0x02  # 2: ServerHello


def looks_like_mqtt_connack(data: bytes) -> bool:
    return len(data) >= 4 and data[0] == 0x20 and data[1] == 0x02


_PRODUCT_TOKEN = re.compile(r"([A-Za-z][\w.\-+]*)/v?(\d[\w.\-+]*)")
_NOT_PRODUCTS = {"upnp", "http", "rtsp", "debian", "ubuntu", "linux", "unix", "posix"}
_FTP_PRODUCT = re.compile(r"(?i)\b(vsftpd|proftpd|pure-ftpd|filezilla server|bftpd)[ /]?v?(\d[\w.\-]*)?")


def product_from_server(server: str | None) -> tuple[str | None, str | None]:
    """(product, version) from a Server header: 'lighttpd/1.4.69' -> ('lighttpd', '1.4.69').

    UPnP servers say 'OS/ver UPnP/1.1 product/ver': the token that is not an OS or a protocol is
    the product. Anything unparseable is kept whole as the product, with no version.
    """
    if not server:
        return None, None
    tokens = _PRODUCT_TOKEN.findall(server)
    named = [(n, v) for n, v in tokens if n.lower() not in _NOT_PRODUCTS]
    if named:
        return named[-1] if "upnp" in server.lower() else named[0]
    return server, None


def product_from_ftp(greeting_text: str) -> tuple[str | None, str | None]:
    """'(vsFTPd 3.0.3)' -> ('vsFTPd', '3.0.3'); otherwise the greeting text as product."""
    m = _FTP_PRODUCT.search(greeting_text)
    if m:
        return m.group(1), m.group(2)
    return greeting_text, None


_VERSION_TXT = re.compile(r"^([A-Za-z][\w.+]*?)[- /]v?(\d[\w.\-+]*)$")


def product_from_version_txt(txt: str) -> tuple[str | None, str | None]:
    """A version.bind answer: 'dnsmasq-2.90' -> ('dnsmasq', '2.90'); otherwise the text as product."""
    m = _VERSION_TXT.match(txt.strip())
    if m:
        return m.group(1), m.group(2)
    return (txt.strip()[:80] or None), None


def dns_version_query() -> tuple[int, bytes]:
    """(ID, query) for version.bind CH TXT, no recursion, with a random ID."""
    qid = dns.random_id()
    return qid, dns.query(qid, dns.VERSION_BIND, dns.TXT, dns.CH)


def from_dns_tcp_reply(data: bytes, qid: int) -> tuple[str | None, str | None] | None:
    """(product, version) from a DNS-over-TCP answer to dns_version_query, None if not DNS."""
    reply = dns.parse_tcp_response(data, qid)
    if reply is None:
        return None
    text = next((t for t in reply.all(dns.TXT) if t), None)
    return product_from_version_txt(text) if text else (None, None)
