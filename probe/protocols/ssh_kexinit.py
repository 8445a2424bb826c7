"""SSH algorithm auditing from the server's own KEXINIT, without a full SSH client.

Why: paramiko 5 refuses SHA-1 key exchange and ssh-rsa/ssh-dss signatures, so a client library
cannot tell us what a legacy device offers. Everything before NEWKEYS is unencrypted, so we read
the identification string and the server's SSH_MSG_KEXINIT ourselves (RFC 4253 sections 4.2, 6,
7.1). To learn each host key's type and size we run just the first half of a key exchange that
we can compute with `cryptography` (curve25519 / ECDH-NIST) or plain integers (finite-field DH,
DH group exchange) and read the host key from the server's reply; the handshake is then dropped.
The host key signature is not verified: we report what the server presents, not who it is.

All reads are bounded (lines, bytes, seconds, packet sizes); nothing raises for device
behaviour: results carry an error text and a reason code instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import socket
import struct
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

CLIENT_IDENT = b"SSH-2.0-probe_audit\r\n"
MAX_PRE_BANNER_LINES = 50
MAX_LINE = 1024
MAX_BANNER_BYTES = 16 * 1024
MAX_PACKET = 35000  # RFC 4253 6.1: the size every implementation must handle
MAX_SKIPPED_PACKETS = 8
MSG_DISCONNECT, MSG_IGNORE, MSG_DEBUG, MSG_EXT_INFO = 1, 2, 4, 7
MSG_KEXINIT = 20
MSG_KEX_30, MSG_KEX_31, MSG_KEX_32, MSG_KEX_33, MSG_KEX_GEX_REQUEST = 30, 31, 32, 33, 34
NAME_LISTS = ("kex_algorithms", "server_host_key_algorithms", "encryption_algorithms_client_to_server",
              "encryption_algorithms_server_to_client", "mac_algorithms_client_to_server",
              "mac_algorithms_server_to_client", "compression_algorithms_client_to_server",
              "compression_algorithms_server_to_client", "languages_client_to_server",
              "languages_server_to_client")
CONNECTIVITY, MISBEHAVED, UNSUPPORTED = "connectivity", "device-misbehaved", "unsupported"

Connect = Callable[[], AbstractContextManager[socket.socket]]


class SSHProtocolError(Exception):
    """The peer's bytes are not the SSH we expected (device misbehaved)."""


class SSHStall(Exception):
    """The peer stopped sending before a complete answer."""


class _Reader:
    """Buffered, bounded reads from a socket with one overall deadline."""

    def __init__(self, sock: socket.socket, deadline: float, max_bytes: int) -> None:
        self.sock, self.deadline, self.max_bytes = sock, deadline, max_bytes
        self.buf = bytearray()
        self.total = 0
        self.transcript = bytearray()  # everything received, for evidence

    def _fill(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise SSHStall("server stalled (time limit reached)")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(4096)
        except TimeoutError:
            raise SSHStall("server stalled (time limit reached)") from None
        if not chunk:
            raise ConnectionResetError("server closed the connection")
        self.total += len(chunk)
        if self.total > self.max_bytes:
            raise SSHProtocolError(f"server sent more than {self.max_bytes} bytes")
        self.buf += chunk
        self.transcript += chunk

    def line(self, limit: int) -> bytes:
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                raise SSHProtocolError(f"identification line longer than {limit} bytes")
            self._fill()
        i = self.buf.index(b"\n")
        if i > limit:
            raise SSHProtocolError(f"identification line longer than {limit} bytes")
        out = bytes(self.buf[:i + 1])
        del self.buf[:i + 1]
        return out

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


# -- wire helpers ---------------------------------------------------------------------------------
def _string(data: bytes) -> bytes:
    return struct.pack("!I", len(data)) + data


def _mpint(n: int) -> bytes:
    if n == 0:
        return _string(b"")
    raw = n.to_bytes((n.bit_length() + 8) // 8, "big")  # keeps a leading 0 when the top bit is set
    return _string(raw)


def _namelist(names: list[str]) -> bytes:
    return _string(",".join(names).encode("ascii"))


class _Cursor:
    """Length-checked reads inside one packet payload."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise SSHProtocolError("field runs past the end of the packet")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        return struct.unpack("!I", self.take(4))[0]

    def string(self) -> bytes:
        return self.take(self.u32())

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)


def packet(payload: bytes, block: int = 8) -> bytes:
    """An unencrypted SSH binary packet (no MAC before NEWKEYS)."""
    pad = block - ((5 + len(payload)) % block)
    if pad < 4:
        pad += block
    return struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + os.urandom(pad)


def read_packet(reader: _Reader) -> bytes:
    """One unencrypted binary packet's payload, with RFC 4253 6.1 size checks."""
    header = reader.exact(5)
    length, pad = struct.unpack("!IB", header)
    if length > MAX_PACKET or length < 5:
        raise SSHProtocolError(f"packet length {length} is out of range (not an SSH-2 binary packet?)")
    if pad < 4 or pad >= length:
        raise SSHProtocolError(f"padding length {pad} is invalid for packet length {length}")
    body = reader.exact(length - 1)
    return body[:length - 1 - pad]


# -- KEXINIT --------------------------------------------------------------------------------------
@dataclass
class KexInit:
    cookie: bytes
    lists: dict[str, list[str]]
    first_kex_packet_follows: bool
    payload: bytes

    def get(self, name: str) -> list[str]:
        return self.lists.get(name, [])


_NAME_RE = re.compile(r"^[\x21-\x7e]+$")


def parse_kexinit(payload: bytes) -> KexInit:
    if not payload or payload[0] != MSG_KEXINIT:
        raise SSHProtocolError(f"expected SSH_MSG_KEXINIT, got message {payload[0] if payload else 'empty'}")
    cur = _Cursor(payload, 1)
    cookie = cur.take(16)
    lists: dict[str, list[str]] = {}
    for name in NAME_LISTS:
        raw = cur.string()
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise SSHProtocolError(f"{name} is not ASCII") from None
        items = [x for x in text.split(",")] if text else []
        if any(not _NAME_RE.match(x) for x in items):
            raise SSHProtocolError(f"{name} holds an empty or non-printable algorithm name")
        lists[name] = items
    follows = cur.take(1) != b"\x00"
    cur.u32()  # reserved
    return KexInit(cookie, lists, follows, payload)


@dataclass
class Banner:
    line: str  # the identification string, without CR LF
    protocol: str  # "2.0" | "1.99" | "1.5" ...
    software: str
    pre_lines: list[str]  # lines the server sent before it (RFC 4253 4.2 allows them)
    raw: bytes

    @property
    def supports_v1(self) -> bool:
        return self.protocol.startswith("1.")

    @property
    def supports_v2(self) -> bool:
        return self.protocol in ("2.0", "1.99")


def read_banner(reader: _Reader) -> Banner:
    pre: list[str] = []
    raw = bytearray()
    for _ in range(MAX_PRE_BANNER_LINES + 1):
        line = reader.line(MAX_LINE)
        raw += line
        if len(raw) > MAX_BANNER_BYTES:
            raise SSHProtocolError("too much text before the SSH identification string")
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        if text.startswith("SSH-"):
            m = re.match(r"^SSH-([0-9.]+)-(.*)$", text)
            if not m:
                raise SSHProtocolError(f"malformed identification string {text[:80]!r}")
            return Banner(text, m.group(1), m.group(2), pre, bytes(raw))
        pre.append(text)
    raise SSHProtocolError(f"no SSH identification string within {MAX_PRE_BANNER_LINES} lines")


def _next_payload(reader: _Reader, wanted: tuple[int, ...]) -> bytes:
    """Next packet of a wanted type, skipping IGNORE/DEBUG/EXT_INFO (bounded)."""
    for _ in range(MAX_SKIPPED_PACKETS):
        payload = read_packet(reader)
        if not payload:
            raise SSHProtocolError("empty packet payload")
        if payload[0] in wanted:
            return payload
        if payload[0] == MSG_DISCONNECT:
            cur = _Cursor(payload, 1)
            code = cur.u32()
            desc = cur.string()[:200].decode("utf-8", "replace")
            raise ConnectionResetError(f"server disconnected (code {code}: {desc})")
        if payload[0] not in (MSG_IGNORE, MSG_DEBUG, MSG_EXT_INFO):
            raise SSHProtocolError(f"unexpected message {payload[0]} (wanted {wanted})")
    raise SSHProtocolError("too many packets without the expected message")


# -- the observations -----------------------------------------------------------------------------
@dataclass
class HostKey:
    algorithm: str  # the host key algorithm we asked for
    key_type: str  # ssh-rsa | ssh-dss | ecdsa-sha2-nistp256 | ssh-ed25519 | ... (the key, not the signature)
    bits: int
    blob: bytes
    kex: str  # key exchange used to obtain it
    # Signature algorithms the server offers with this key. An "ssh-rsa" *key* can sign with
    # rsa-sha2-512/-256 (RFC 8332) or with the SHA-1 *algorithm* also named "ssh-rsa".
    signature_algorithms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "key_type": self.key_type, "bits": self.bits, "kex": self.kex,
                "signature_algorithms": self.signature_algorithms}

    def describe(self) -> str:
        names = {"ssh-rsa": "RSA", "ssh-dss": "DSA", "ssh-ed25519": "Ed25519", "ssh-ed448": "Ed448"}
        kind = names.get(self.key_type, self.key_type.replace("ecdsa-sha2-", "ECDSA "))
        sigs = ", ".join(self.signature_algorithms)
        return f"{kind} {self.bits}-bit key" + (f" (signatures: {sigs})" if sigs else "")


RSA_SIGNATURES = {"rsa-sha2-512": "SHA-512", "rsa-sha2-256": "SHA-256", "ssh-rsa": "SHA-1"}


def signature_algorithms_for(key_type: str, offered: list[str]) -> list[str]:
    """The offered host key algorithms that sign with a key of `key_type` (certificates left out)."""
    if key_type == "ssh-rsa":
        return [a for a in offered if a in RSA_SIGNATURES]
    return [a for a in offered if a == key_type]


def terrapin(lists: dict[str, list[str]]) -> dict[str, Any]:
    """Exposure to the Terrapin prefix-truncation attack (CVE-2023-48795, Bäumer et al. 2023): the
    server offers chacha20-poly1305, or a CBC cipher together with an encrypt-then-MAC MAC, and
    does not announce strict key exchange (kex-strict-s-v00@openssh.com). An observation from
    the KEXINIT alone; whether a given client is affected also depends on the client."""
    ciphers = set(lists.get("encryption_algorithms_client_to_server", [])) | set(
        lists.get("encryption_algorithms_server_to_client", []))
    macs = set(lists.get("mac_algorithms_client_to_server", [])) | set(lists.get("mac_algorithms_server_to_client", []))
    strict = "kex-strict-s-v00@openssh.com" in lists.get("kex_algorithms", [])
    chacha = sorted(c for c in ciphers if c.startswith("chacha20-poly1305"))
    cbc = sorted(c for c in ciphers if c.endswith("-cbc") or "-cbc@" in c)
    etm = sorted(m for m in macs if m.endswith("-etm@openssh.com"))
    because = []
    if chacha:
        because.append(", ".join(chacha))
    if cbc and etm:
        because.append(f"CBC ciphers ({', '.join(cbc)}) with encrypt-then-MAC MACs ({', '.join(etm)})")
    return {"strict_kex": strict, "chacha20_poly1305": chacha, "cbc_ciphers": cbc, "etm_macs": etm,
            "vulnerable": bool(because) and not strict, "because": because}


@dataclass
class SSHScan:
    banner: Banner | None = None
    kexinit: KexInit | None = None
    host_keys: list[HostKey] = field(default_factory=list)
    host_key_errors: dict[str, str] = field(default_factory=dict)  # algorithm -> why not obtained
    error: str = ""
    reason_code: str | None = None
    transcript: bytes = b""  # what the server sent on the first connection (banner + KEXINIT)
    connections: int = 0
    gex: list[GexProbe] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "banner": self.banner.line if self.banner else None,
            "protocol": self.banner.protocol if self.banner else None,
            "pre_banner_lines": self.banner.pre_lines if self.banner else [],
            "algorithms": self.kexinit.lists if self.kexinit else None,
            "host_keys": [k.to_json() for k in self.host_keys],
            "host_key_errors": self.host_key_errors,
            "terrapin": terrapin(self.kexinit.lists) if self.kexinit else None,
            "gex": [g.to_json() for g in self.gex],
            "error": self.error or None,
            "connections": self.connections,
        }


def no_delay(sock: socket.socket) -> None:
    """Send each write at once (TCP_NODELAY). Why: an SSH client writes two packets back to back
    before the server answers (our KEXINIT then the key exchange's first message; paramiko's
    NEWKEYS then its service request); with Nagle's algorithm the second waits for the ACK of the
    first, which the server delays (~40 ms on Linux), on every connection. Not a TCP socket (a
    test's socketpair): nothing to do."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _open(connect: Connect, timeout: float, max_bytes: int) -> tuple[AbstractContextManager[socket.socket],
                                                                      socket.socket, _Reader]:
    cm = connect()
    sock = cm.__enter__()
    no_delay(sock)
    return cm, sock, _Reader(sock, time.monotonic() + timeout, max_bytes)


def read_kexinit(connect: Connect, *, timeout: float = 5.0, max_bytes: int = 256 * 1024) -> SSHScan:
    """Banner and server KEXINIT from one connection."""
    return _read_kexinit(connect, timeout, max_bytes, keep=False)[0]


_Open = tuple[AbstractContextManager[socket.socket], socket.socket, _Reader]


def _close(conn: _Open | None) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            conn[0].__exit__(None, None, None)


def _read_kexinit(connect: Connect, timeout: float, max_bytes: int, *, keep: bool) -> tuple[SSHScan, _Open | None]:
    """read_kexinit; with `keep`, a connection that delivered the KEXINIT is returned open (the
    caller closes it), so the scan can run its first key exchange on it instead of a new one."""
    scan = SSHScan(connections=1)
    try:
        cm, sock, reader = _open(connect, timeout, max_bytes)
    except OSError as exc:
        scan.error, scan.reason_code = f"could not connect: {exc}", CONNECTIVITY
        return scan, None
    kept: _Open | None = None
    try:
        sock.sendall(CLIENT_IDENT)
        scan.banner = read_banner(reader)
        if not scan.banner.supports_v2:
            return scan, None  # SSH-1 only: there is no KEXINIT to read
        scan.kexinit = parse_kexinit(_next_payload(reader, (MSG_KEXINIT,)))
        if keep:
            kept = (cm, sock, reader)
    except SSHProtocolError as exc:
        scan.error, scan.reason_code = str(exc), MISBEHAVED
    except SSHStall as exc:
        scan.error, scan.reason_code = str(exc), MISBEHAVED
    except ConnectionResetError as exc:
        scan.error, scan.reason_code = f"connection closed early: {exc}", MISBEHAVED
    except OSError as exc:
        scan.error, scan.reason_code = f"socket error: {exc}", CONNECTIVITY
    finally:
        scan.transcript = bytes(reader.transcript)  # banner + KEXINIT: what any later use adds is not kept
        if kept is None:
            _close((cm, sock, reader))
    return scan, kept


# -- host keys via a partial key exchange ---------------------------------------------------------
def _pi_scaled(bits: int) -> int:
    """floor(pi * 2**bits), by Machin's formula in fixed point (64 guard bits)."""
    guard = 64
    one = 1 << (bits + guard)

    def arctan_inv(x: int) -> int:
        total, term, k, x2 = 0, one // x, 1, x * x
        while term:
            total += term // k if (k // 2) % 2 == 0 else -(term // k)
            term //= x2
            k += 2
        return total

    return (16 * arctan_inv(5) - 4 * arctan_inv(239)) >> guard


def _modp(bits: int, offset: int) -> int:
    """The RFC 2409 / RFC 3526 MODP primes: 2^b - 2^(b-64) - 1 + 2^64 * (floor(2^(b-130) pi) + offset)."""
    return 2**bits - 2**(bits - 64) - 1 + 2**64 * (_pi_scaled(bits - 130) + offset)


_PRIMES: dict[str, tuple[int, int]] = {}


def _dh_primes() -> dict[str, tuple[int, int]]:
    """Fixed groups for diffie-hellman-group1 (Oakley group 2, RFC 2409 6.2) and group14 (RFC 3526
    group 14), computed from their published definition rather than pasted as hex; a test checks
    group 14 against paramiko's copy. (paramiko 5 dropped group1, so it cannot be the source.)"""
    if not _PRIMES:
        g1, g14 = _modp(1024, 129093), _modp(2048, 124476)
        _PRIMES.update({"diffie-hellman-group14-sha256": (g14, 2), "diffie-hellman-group14-sha1": (g14, 2),
                        "diffie-hellman-group1-sha1": (g1, 2)})
    return _PRIMES


# kex name -> the curve's class in cryptography.hazmat.primitives.asymmetric.ec
_ECDH_CURVES = {"ecdh-sha2-nistp256": "SECP256R1", "ecdh-sha2-nistp384": "SECP384R1",
                "ecdh-sha2-nistp521": "SECP521R1"}
_CURVE25519 = ("curve25519-sha256", "curve25519-sha256@libssh.org")
_GEX = ("diffie-hellman-group-exchange-sha256", "diffie-hellman-group-exchange-sha1")


def implemented_kex() -> list[str]:
    """Key exchanges we can start, in the order we prefer them."""
    return [*_CURVE25519, *_ECDH_CURVES, *_GEX, *_dh_primes()]


def host_key_families(algorithms: list[str]) -> dict[str, str]:
    """One algorithm per distinct key (rsa-sha2-* and ssh-rsa share one RSA key), certificates
    and unknown names left out. Maps family -> the algorithm name to request."""
    fam: dict[str, str] = {}
    for alg in algorithms:
        if "-cert-" in alg:
            continue
        if alg in ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"):
            # Prefer a SHA-2 name: the key is the same, and modern servers refuse ssh-rsa.
            if "rsa" not in fam or fam["rsa"] == "ssh-rsa":
                fam["rsa"] = alg
        elif alg in ("ssh-dss", "ssh-ed25519", "ssh-ed448") or alg.startswith("ecdsa-sha2-"):
            fam.setdefault(alg, alg)
    return fam


def parse_host_key_blob(blob: bytes) -> tuple[str, int]:
    """(key type, size in bits) from an RFC 4253 6.6 public key blob."""
    cur = _Cursor(blob)
    ktype = cur.string().decode("ascii", "replace")
    if ktype == "ssh-rsa":
        cur.mpint()  # e
        n = cur.mpint()
        return ktype, n.bit_length()
    if ktype == "ssh-dss":
        p = cur.mpint()
        return ktype, p.bit_length()
    if ktype.startswith("ecdsa-sha2-"):
        curve = cur.string().decode("ascii", "replace")
        return ktype, {"nistp256": 256, "nistp384": 384, "nistp521": 521}.get(curve, 0)
    if ktype == "ssh-ed25519":
        return ktype, 256
    if ktype == "ssh-ed448":
        return ktype, 456
    return ktype, 0


def fetch_host_key(connect: Connect, server: KexInit, host_key_alg: str, *, timeout: float = 5.0,
                   max_bytes: int = 256 * 1024, kex: str | None = None) -> HostKey:
    """Run the first half of a key exchange offering only `host_key_alg`; return the host key.

    Raises SSHProtocolError / SSHStall / OSError / LookupError (no common kex we implement); the
    caller turns those into per-algorithm error texts.
    """
    if kex is None:
        kex = _pick_kex(server)
    elif kex not in implemented_kex():
        raise LookupError(f"probe cannot run key exchange {kex}")
    conn = _start_kex(connect, server, kex, host_key_alg, timeout, max_bytes)
    try:
        return _host_key_on(conn, server, host_key_alg, kex, sent=True)
    finally:
        _close(conn)


def _pick_kex(server: KexInit) -> str:
    offered = server.get("kex_algorithms")
    kex = next((k for k in implemented_kex() if k in offered), None)
    if kex is None:
        raise LookupError(f"the server offers no key exchange probe can run (offered: {', '.join(offered)})")
    return kex


def _host_key_on(conn: _Open, server: KexInit, host_key_alg: str, kex: str, *, sent: bool = False) -> HostKey:
    """The first half of a key exchange on a connection that has read the server's KEXINIT (our
    own KEXINIT already `sent`, or sent here); the host key from the server's reply."""
    _cm, sock, reader = conn
    if not sent:
        sock.sendall(packet(_our_kexinit(server, kex, host_key_alg)))
    blob = _kex_reply_host_key(sock, reader, kex)
    ktype, bits = parse_host_key_blob(blob)
    return HostKey(host_key_alg, ktype, bits, blob, kex)


def _our_kexinit(server: KexInit, kex: str, host_key_alg: str) -> bytes:
    """Our KEXINIT: one kex, one host key algorithm, and the server's own first choices for the
    rest so that negotiation cannot fail on them."""
    def first(key: str) -> list[str]:
        return [server.get(key)[0]] if server.get(key) else ["none"]

    ours = bytes([MSG_KEXINIT]) + secrets.token_bytes(16)
    ours += _namelist([kex]) + _namelist([host_key_alg])
    for key in NAME_LISTS[2:8]:
        ours += _namelist(first(key))
    return ours + _namelist([]) + _namelist([]) + b"\x00" + b"\x00\x00\x00\x00"


def _start_kex(connect: Connect, server: KexInit, kex: str, host_key_alg: str, timeout: float,
               max_bytes: int) -> _Open:
    """A fresh connection up to our KEXINIT (see _our_kexinit)."""
    cm, sock, reader = _open(connect, timeout, max_bytes)
    try:
        sock.sendall(CLIENT_IDENT)
        banner = read_banner(reader)
        if not banner.supports_v2:
            raise SSHProtocolError("server stopped offering SSH-2")
        _next_payload(reader, (MSG_KEXINIT,))
        sock.sendall(packet(_our_kexinit(server, kex, host_key_alg)))
    except BaseException:
        _close((cm, sock, reader))
        raise
    return cm, sock, reader


# -- DH group exchange: the modulus the server hands out -----------------------------------------
# (min, preferred, max) bits. The first is what a current OpenSSH client asks for; the second asks
# for the smallest group RFC 4419 allows, which is what an old or downgraded client would get.
GEX_REQUESTS = ((2048, 3072, 8192), (1024, 1024, 8192))


@dataclass
class GexProbe:
    algorithm: str
    request: tuple[int, int, int]
    modulus_bits: int | None  # None: no group obtained (see error)
    generator: int | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"algorithm": self.algorithm, "request": {"min": self.request[0], "preferred": self.request[1],
                                                        "max": self.request[2]},
                "modulus_bits": self.modulus_bits, "generator": self.generator, "error": self.error or None}


def gex_group(connect: Connect, server: KexInit, algorithm: str, request: tuple[int, int, int], *,
              timeout: float = 5.0, max_bytes: int = 256 * 1024) -> GexProbe:
    """Send one SSH_MSG_KEX_DH_GEX_REQUEST (RFC 4419 3) and read the group the server answers with;
    the exchange is then dropped. Never raises for device behaviour."""
    out = GexProbe(algorithm, request, None)
    host_key = (server.get("server_host_key_algorithms") or ["ssh-ed25519"])[0]
    try:
        cm, sock, reader = _start_kex(connect, server, algorithm, host_key, timeout, max_bytes)
    except (SSHProtocolError, SSHStall) as exc:
        out.error = f"device misbehaved: {exc}"
        return out
    except OSError as exc:
        out.error = f"connection problem: {exc}"
        return out
    try:
        sock.sendall(packet(bytes([MSG_KEX_GEX_REQUEST]) + struct.pack("!III", *request)))
        group = _Cursor(_next_payload(reader, (MSG_KEX_31,)), 1)
        p, g = group.mpint(), group.mpint()
        if p < 3 or not 1 < g < p:
            out.error = "the server sent an unusable DH group"
        else:
            out.modulus_bits, out.generator = p.bit_length(), g
    except ConnectionResetError as exc:
        out.error = f"the server refused the request ({exc})"
    except (SSHProtocolError, SSHStall) as exc:
        out.error = f"device misbehaved: {exc}"
    except OSError as exc:
        out.error = f"connection problem: {exc}"
    finally:
        with contextlib.suppress(Exception):
            cm.__exit__(None, None, None)
    return out


# Our half of a curve25519 exchange: the curve's base point (u = 9, RFC 7748 4.1), a valid public
# value. The exchange is dropped after the server's reply, so no shared secret is ever derived and
# no private key is needed: sending the base point spares every host-key read a key generation,
# and the SSH audit the import of `cryptography` (~20 ms of a run's CPU, issue 13's timing).
X25519_BASE_POINT = bytes([9]) + bytes(31)


def _kex_reply_host_key(sock: socket.socket, reader: _Reader, kex: str) -> bytes:
    if kex in _CURVE25519:
        sock.sendall(packet(bytes([MSG_KEX_30]) + _string(X25519_BASE_POINT)))
        reply = _next_payload(reader, (MSG_KEX_31,))
    elif kex in _ECDH_CURVES:
        # cryptography loads only here (a server without curve25519): a fresh NIST key pair
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        curve: ec.EllipticCurve = getattr(ec, _ECDH_CURVES[kex])()
        key = ec.generate_private_key(curve)
        q = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        sock.sendall(packet(bytes([MSG_KEX_30]) + _string(q)))
        reply = _next_payload(reader, (MSG_KEX_31,))
    elif kex in _GEX:
        sock.sendall(packet(bytes([MSG_KEX_GEX_REQUEST]) + struct.pack("!III", 1024, 2048, 8192)))
        group = _Cursor(_next_payload(reader, (MSG_KEX_31,)), 1)
        p, g = group.mpint(), group.mpint()
        if p.bit_length() > 8192 or p < 3 or not 1 < g < p:
            raise SSHProtocolError("server sent an unusable DH group")
        e = pow(g, secrets.randbits(256) | 1, p)
        sock.sendall(packet(bytes([MSG_KEX_32]) + _mpint(e)))
        reply = _next_payload(reader, (MSG_KEX_33,))
    else:
        p, g = _dh_primes()[kex]
        e = pow(g, secrets.randbits(256) | 1, p)
        sock.sendall(packet(bytes([MSG_KEX_30]) + _mpint(e)))
        reply = _next_payload(reader, (MSG_KEX_31,))
    return _Cursor(reply, 1).string()


def scan(connect: Connect, *, timeout: float = 5.0, max_host_key_attempts: int = 6,
         check_cancelled: Callable[[], None] = lambda: None, max_bytes: int = 256 * 1024,
         gex: bool = True, parallel: int = 1) -> SSHScan:
    """KEXINIT first; then one partial key exchange per distinct host key type (bounded); then, when
    DH group exchange is offered, one GEX request per entry of GEX_REQUESTS to read the modulus size."""
    result, first_conn = _read_kexinit(connect, timeout, max_bytes, keep=True)
    try:
        if result.kexinit is None:
            return result
        return _scan_rest(result, result.kexinit, first_conn, connect, timeout, max_host_key_attempts,
                          check_cancelled, max_bytes, gex, parallel)
    finally:
        _close(first_conn)


def _scan_rest(result: SSHScan, kexinit: KexInit, first_conn: _Open | None, connect: Connect, timeout: float,
               max_host_key_attempts: int, check_cancelled: Callable[[], None], max_bytes: int, gex: bool,
               parallel: int) -> SSHScan:
    """scan() after the KEXINIT. The first host key is read on the KEXINIT's own connection (which
    already has the server's KEXINIT: one connection, and one server banner, fewer per scan); the
    others, and the GEX requests, on connections of their own, side by side."""
    families = list(host_key_families(kexinit.get("server_host_key_algorithms")).values())
    for alg in families[max_host_key_attempts:]:
        result.host_key_errors[alg] = "attempt budget exhausted"

    def host_key(alg: str, conn: _Open | None = None) -> HostKey | str:
        check_cancelled()
        try:
            if conn is not None:
                conn[2].deadline = time.monotonic() + timeout  # a whole timeout, as a new connection gets
                hk = _host_key_on(conn, kexinit, alg, _pick_kex(kexinit))
            else:
                hk = fetch_host_key(connect, kexinit, alg, timeout=timeout, max_bytes=max_bytes)
        except LookupError as exc:
            return str(exc)
        except (SSHProtocolError, SSHStall) as exc:
            return f"device misbehaved: {exc}"
        except OSError as exc:
            return f"connection problem: {exc}"
        hk.signature_algorithms = signature_algorithms_for(hk.key_type, kexinit.get("server_host_key_algorithms"))
        return hk

    gex_alg = next((a for a in _GEX if a in kexinit.get("kex_algorithms")), None)
    requests = list(GEX_REQUESTS) if gex_alg is not None and gex else []  # one algorithm: the moduli are shared

    def gex_job(request: tuple[int, int, int]) -> GexProbe:
        check_cancelled()
        return gex_group(connect, kexinit, gex_alg or "", request, timeout=timeout, max_bytes=max_bytes)

    # Independent connections: run up to `parallel` at once (the caller's connection cap still holds,
    # since every socket comes from `connect`). Results keep their order.
    algs = families[:max_host_key_attempts]
    jobs: list[Callable[[], Any]] = [functools.partial(host_key, a, first_conn if n == 0 else None)
                                     for n, a in enumerate(algs)]
    jobs += [functools.partial(gex_job, r) for r in requests]
    result.connections += len(jobs) - (1 if algs and first_conn is not None else 0)
    if parallel > 1 and len(jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(parallel, len(jobs))) as pool:
            outcomes = list(pool.map(lambda job: job(), jobs))
    else:
        outcomes = [job() for job in jobs]
    for alg, got in zip(algs, outcomes[:len(algs)], strict=True):
        if isinstance(got, HostKey):
            result.host_keys.append(got)
        else:
            result.host_key_errors[alg] = got
    result.gex = outcomes[len(algs):]
    return result
