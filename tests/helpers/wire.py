"""Small, bounded protocol clients the lab tests use to prove each daemon really answers.

Plain sockets on purpose: the point is a real protocol exchange with the real daemon, and some
of what we check (SHA-1 key exchange offers, TLS 1.0) is what high-level clients refuse to do.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import subprocess
import tempfile
import time

TIMEOUT = 5.0

# net-snmp 5.9's answer to `snmpget -v3 -l noAuthNoPriv -u nobody` engine discovery (captured with -d)
NETSNMP_V3_REPORT = bytes.fromhex(
    "30710201033011020"
    "42ffb3246020300ffe30401000201030421301f041180001f88802bc2d74937650f6b00000000020101020107040004000400"
    "3036041180001f88802bc2d74937650f6b000000000400a81f02041628b62e020100020100301130"
    "0f060a2b060106030f01010400410102")


def recv_until(sock: socket.socket, token: bytes, limit: int = 65536, seconds: float = TIMEOUT) -> bytes:
    """Read until `token` appears, the peer closes, `limit` bytes or `seconds` pass."""
    buf = b""
    deadline = time.monotonic() + seconds
    while token not in buf and len(buf) < limit and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except TimeoutError:
            break
        if not data:
            break
        buf += data
    return buf


# ---- SSH: banner and the server's KEXINIT name-lists (RFC 4253 section 7.1)

def recv_exact(sock: socket.socket, n: int, seconds: float = TIMEOUT) -> bytes:
    buf = b""
    deadline = time.monotonic() + seconds
    while len(buf) < n and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(n - len(buf))
        except TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def ssh_kexinit(host: str, port: int) -> tuple[str, dict[str, list[str]]]:
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        s.sendall(b"SSH-2.0-probe_lab_test\r\n")
        banner, _, rest = recv_until(s, b"\n").partition(b"\n")
        if len(rest) < 4:
            rest += recv_exact(s, 4 - len(rest))
        length = struct.unpack(">I", rest[:4])[0]
        if length > 35000:
            raise ValueError("implausible SSH packet length")
        if len(rest) < 4 + length:
            rest += recv_exact(s, 4 + length - len(rest))
    payload = rest[5:4 + length - rest[4]]
    assert payload[0] == 20, "first packet is not KEXINIT"
    off = 1 + 16
    names = ["kex", "hostkey", "enc_c2s", "enc_s2c", "mac_c2s", "mac_s2c"]
    lists: dict[str, list[str]] = {}
    for name in names:
        n = struct.unpack(">I", payload[off:off + 4])[0]
        lists[name] = payload[off + 4:off + 4 + n].decode().split(",")
        off += 4 + n
    return banner.decode().strip(), lists


# ---- telnet: answer every option negotiation with "no", collect text

def telnet_read(sock: socket.socket, token: bytes, seconds: float = TIMEOUT) -> bytes:
    text = b""
    deadline = time.monotonic() + seconds
    while token not in text and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(1024)
        except TimeoutError:
            break
        if not data:
            break
        i, reply = 0, b""
        while i < len(data):
            if data[i] == 255 and i + 2 < len(data) and data[i + 1] in (251, 252, 253, 254):
                cmd, opt = data[i + 1], data[i + 2]
                reply += bytes([255, 254 if cmd in (251, 252) else 252, opt])
                i += 3
                continue
            text += data[i:i + 1]
            i += 1
        if reply:
            sock.sendall(reply)
    return text


# ---- MQTT 3.1.1 CONNECT / CONNACK

def _mqtt_str(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">H", len(raw)) + raw


def mqtt_connect_packet(client_id: str, user: str | None = None, password: str | None = None) -> bytes:
    flags = 0x02
    payload = _mqtt_str(client_id)
    if user is not None:
        flags |= 0x80
        payload += _mqtt_str(user)
    if password is not None:
        flags |= 0x40
        payload += _mqtt_str(password)
    var = _mqtt_str("MQTT") + bytes([4, flags]) + struct.pack(">H", 30)
    body = var + payload
    assert len(body) < 128
    return bytes([0x10, len(body)]) + body


def mqtt_connack(sock: socket.socket | ssl.SSLSocket, packet: bytes) -> int:
    """Send CONNECT, return the CONNACK return code (0 = accepted)."""
    sock.sendall(packet)
    data = recv_exact(sock, 4)  # an SSLSocket is a socket.socket
    if len(data) < 4 or data[0] != 0x20:
        raise ConnectionError(f"no CONNACK: {data!r}")
    return data[3]


# ---- DNS: one A query

def dns_query_a(server: str, name: str) -> list[str]:
    qid = os.getpid() & 0xFFFF
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        s.sendto(q, (server, 53))
        resp = s.recv(1500)
    ancount = struct.unpack(">H", resp[6:8])[0]
    off = len(q)
    out = []
    for _ in range(ancount):
        off += 2 if resp[off] & 0xC0 == 0xC0 else len(name) + 2
        rtype, _, _, rdlen = struct.unpack(">HHIH", resp[off:off + 10])
        off += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(resp[off:off + rdlen]))
        off += rdlen
    return out


# ---- SNMP through net-snmp's client, kept away from the host's /var/lib/snmp

def snmpget(args: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SNMP_PERSISTENT_DIR=tmp, MIBS="", SNMPCONFPATH=tmp)
        return subprocess.run(["snmpget", "-t", "1", "-r", "1", "-On", *args], capture_output=True,
                              text=True, timeout=timeout, env=env)


def openssl_client(host: str, port: int, *opts: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", "s_client", "-connect", f"{host}:{port}", *opts],
                          input="", capture_output=True, text=True, timeout=timeout)
