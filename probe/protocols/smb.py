"""SMB (file shares): recognise a server, and ask what a guest may see, with impacket.

Identification sends one fixed SMB2 NEGOTIATE (the first message every SMB2/3 client sends; it
asks nothing and changes nothing) and only checks that the reply carries the SMB magic.

The guest test is a real SMB session made by impacket (README, dependency table): an anonymous
(null) session, then the `guest` account with an empty password, the share list through the
srvsvc pipe (NetrShareEnum, as `smbclient -L` does), and a listing of the top folder of each
disk share. Writing that by hand would mean NTLMSSP, SMB2 tree and file handling and DCE/RPC
NDR parsing of hostile input; impacket is the maintained implementation nmap users and security
teams rely on. It opens its own socket (the caller holds the device's connection slot) and
every socket read has `timeout`; listings are cut at `max_entries`.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Any

SMB2_MAGIC = b"\xfeSMB"
SMB1_MAGIC = b"\xffSMB"
DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302)
DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1", 0x02FF: "2.???"}
STYPE_DISKTREE = 0
STYPE_MASK = 0x0FFFFFFF


def negotiate_request() -> bytes:
    """SMB2 NEGOTIATE over direct TCP (a 4-byte session header, then the SMB2 header and body)."""
    header = struct.pack("<4sHHIHHIIQIIQ16s", SMB2_MAGIC, 64, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, b"\0" * 16)
    body = struct.pack("<HHHHI16sQ", 36, len(DIALECTS), 1, 0, 0, b"probe-negotiate!", 0)
    body += b"".join(struct.pack("<H", d) for d in DIALECTS)
    msg = header + body
    return struct.pack(">I", len(msg)) + msg


def parse_negotiate_reply(data: bytes) -> str | None:
    """The dialect the server chose ("3.0.2", "SMB1"...), "" when it is SMB but unreadable, None when not SMB."""
    if len(data) < 8 or data[0] != 0 or data[4:8] not in (SMB2_MAGIC, SMB1_MAGIC):
        return None
    if data[4:8] == SMB1_MAGIC:
        return "SMB1"
    body = data[4 + 64:]
    if len(body) < 6:
        return ""
    dialect = struct.unpack_from("<H", body, 4)[0]
    return DIALECT_NAMES.get(dialect, f"0x{dialect:04x}")


@dataclass
class Share:
    name: str
    kind: str  # disk | printer | ipc | device | other
    remark: str
    special: bool  # STYPE_SPECIAL: administrative share (C$, IPC$)
    listed: list[str] | None = None  # names in the top folder, when a guest could list it
    error: str | None = None  # why it could not be listed


@dataclass
class GuestAccess:
    """What an unauthenticated client got from the SMB server."""

    dialect: str | None = None
    session: str | None = None  # "anonymous" | "guest" | None (both refused)
    guest_flag: bool = False  # the server marked the session as a guest session
    refusals: list[str] = field(default_factory=list)  # why each session attempt was refused
    shares: list[Share] = field(default_factory=list)
    share_list_error: str | None = None
    log: list[str] = field(default_factory=list)  # what was asked and answered, for the transcript

    @property
    def readable(self) -> list[Share]:
        return [s for s in self.shares if s.listed is not None]

    def to_json(self) -> dict[str, Any]:
        return {"dialect": self.dialect, "session": self.session, "guest_flag": self.guest_flag,
                "refusals": self.refusals, "share_list_error": self.share_list_error,
                "shares": [{"name": s.name, "kind": s.kind, "remark": s.remark, "special": s.special,
                            "listed": s.listed, "error": s.error} for s in self.shares]}


def _kind(stype: int) -> str:
    base = stype & 0xFF
    return {0: "disk", 1: "printer", 2: "device", 3: "ipc"}.get(base, "other")


def _err(exc: Exception) -> str:
    getter = getattr(exc, "getErrorString", None)
    if callable(getter):
        try:
            text = getter()
            return str(text[0] if isinstance(text, tuple) else text)
        except Exception:  # a library message helper must never hide the refusal itself
            pass
    return f"{exc.__class__.__name__}: {exc}"[:200]


def guest_access(host: str, port: int, timeout: float, *, max_shares: int = 20, max_entries: int = 25,
                 deadline: float | None = None) -> GuestAccess:
    """Anonymous, then guest, session; the share list; the top folder of each disk share.

    Raises OSError when no SMB session could even be negotiated (connectivity)."""
    from impacket.smbconnection import SMBConnection  # lazily: only devices with SMB pay its import

    out = GuestAccess()

    def connect() -> Any:
        try:
            return SMBConnection(host, host, sess_port=port, timeout=timeout)
        except OSError:
            raise
        except Exception as exc:  # impacket wraps socket trouble in its own errors
            raise OSError(f"SMB negotiation failed: {_err(exc)}") from None

    conn = connect()
    out.dialect = DIALECT_NAMES.get(conn.getDialect(), str(conn.getDialect())) if isinstance(
        conn.getDialect(), int) else str(conn.getDialect())
    out.log.append(f"negotiated SMB dialect {out.dialect}")
    try:
        for label, user in (("anonymous", ""), ("guest", "guest")):
            try:
                conn.login(user, "")
            except Exception as exc:
                out.refusals.append(f"{label} session refused: {_err(exc)}")
                out.log.append(out.refusals[-1])
                conn.close()
                conn = connect()
                continue
            out.session = label
            try:
                out.guest_flag = bool(conn.isGuestSession())
            except Exception:  # only SMB1 servers report it; a missing flag is no finding
                out.guest_flag = False
            out.log.append(f"{label} session accepted (user {user!r}, empty password)"
                           + (", the server marked it a guest session" if out.guest_flag else ""))
            break
        if out.session is None:
            return out
        try:
            raw = conn.listShares()
        except Exception as exc:
            out.share_list_error = _err(exc)
            out.log.append(f"share list refused: {out.share_list_error}")
            return out
        for entry in list(raw)[:max_shares]:
            name = str(entry["shi1_netname"]).rstrip("\x00")
            stype = int(entry["shi1_type"])
            share = Share(name, _kind(stype & STYPE_MASK), str(entry["shi1_remark"]).rstrip("\x00")[:120],
                          bool(stype & 0x80000000))
            out.shares.append(share)
        out.log.append("share list: " + ", ".join(f"{s.name} ({s.kind})" for s in out.shares))
        for share in out.shares:
            if share.kind != "disk" or (deadline is not None and time.monotonic() > deadline):
                continue
            try:
                entries = conn.listPath(share.name, "*")
            except Exception as exc:
                share.error = _err(exc)
                out.log.append(f"list \\\\{host}\\{share.name}\\*: refused: {share.error}")
                continue
            names = [e.get_longname() for e in entries if e.get_longname() not in (".", "..")]
            share.listed = names[:max_entries]
            more = f" (+{len(names) - max_entries} more)" if len(names) > max_entries else ""
            out.log.append(f"list \\\\{host}\\{share.name}\\*: {', '.join(share.listed) or '(empty)'}{more}")
    finally:
        try:
            conn.logoff()
        except Exception:  # logging off is a courtesy; the answers are already recorded
            pass
        conn.close()
    return out
