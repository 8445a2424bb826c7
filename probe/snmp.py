"""The smallest SNMP client probe needs: one v2c GET of sysDescr.0, bounded, to the target only.

Used only when discovery saw an SNMP service; the community is the public default ("public"),
because a model string readable with it is exactly what an assessor wants to see. A tiny BER
encoder/decoder avoids pulling a full SNMP stack in for one read.
"""

from __future__ import annotations

import secrets
import socket

from .context import CheckContext

SYS_DESCR = bytes.fromhex("2b06010201010100")  # 1.3.6.1.2.1.1.1.0


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + length + value


def _int(v: int) -> bytes:
    return _tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def get_request(community: str, request_id: int) -> bytes:
    varbind = _tlv(0x30, _tlv(0x06, SYS_DESCR) + b"\x05\x00")
    pdu = _tlv(0xA0, _int(request_id) + _int(0) + _int(0) + _tlv(0x30, varbind))
    return _tlv(0x30, _int(1) + _tlv(0x04, community.encode()) + pdu)


def _read(data: bytes, i: int) -> tuple[int, bytes, int]:
    if i + 2 > len(data):
        raise ValueError("truncated")
    tag, n = data[i], data[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 3 or i + k > len(data):
            raise ValueError("bad length")
        n = int.from_bytes(data[i:i + k], "big")
        i += k
    if i + n > len(data):
        raise ValueError("truncated value")
    return tag, data[i:i + n], i + n


def parse_response(data: bytes, request_id: int) -> str | None:
    """sysDescr from a GetResponse, or None if it is not one (or carries an error / no value)."""
    try:
        tag, msg, _ = _read(data, 0)
        if tag != 0x30:
            return None
        _t, _ver, i = _read(msg, 0)
        _t, _comm, i = _read(msg, i)
        tag, pdu, _ = _read(msg, i)
        if tag != 0xA2:
            return None
        _t, rid, j = _read(pdu, 0)
        if int.from_bytes(rid, "big", signed=True) != request_id:
            return None
        _t, err, j = _read(pdu, j)
        if any(err):
            return None
        _t, _ei, j = _read(pdu, j)
        _t, vbl, _ = _read(pdu, j)
        _t, vb, _ = _read(vbl, 0)
        _t, oid, k = _read(vb, 0)
        vtag, value, _ = _read(vb, k)
        if oid != SYS_DESCR or vtag != 0x04:
            return None
        return value.decode("utf-8", "replace")[:500]
    except ValueError:
        return None


def sys_descr(ctx: CheckContext, port: int, community: str = "public") -> tuple[str | None, bytes, bytes, str | None]:
    """(sysDescr or None, request, response, error)."""
    rid = secrets.randbelow(2**31 - 1) + 1
    req = get_request(community, rid)
    family = socket.AF_INET6 if ":" in ctx.host else socket.AF_INET
    with ctx.slot():
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.settimeout(ctx.remaining(2.0))
            for _attempt in range(2):
                ctx.check_cancelled()
                sock.sendto(req, (ctx.host, port))
                try:
                    data, addr = sock.recvfrom(65535)
                except (socket.timeout, TimeoutError):
                    continue
                if addr[0] != ctx.host:
                    continue
                return parse_response(data, rid), req, data, None
            return None, req, b"", "no answer"
        except OSError as exc:
            return None, req, b"", f"{exc.__class__.__name__}: {exc}"
        finally:
            sock.close()
