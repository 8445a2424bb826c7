"""A minimal RTSP/1.0 client (RFC 2326): OPTIONS and DESCRIBE, one request per connection.

Cameras serve their video over RTSP; whether DESCRIBE hands out a stream description without
credentials is the question. Reads are bounded like every other device read.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from probe.protocols.netio import ReadLimitExceeded, ReadTimeout, read_exact, read_until
from probe.protocols.transcript import Transcript

MAX_HEADER = 16 * 1024
MAX_BODY = 64 * 1024


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


def request(sock: socket.socket, t: Transcript, method: str, url: str, cseq: int, timeout: float,
            extra: dict[str, str] | None = None) -> Reply:
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", "User-Agent: probe"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    t.sent(raw)
    sock.sendall(raw)
    try:
        head = read_until(sock, b"\r\n\r\n", max_bytes=MAX_HEADER, total_timeout=timeout)
    except (ReadTimeout, ReadLimitExceeded) as exc:
        t.received(exc.data)
        raise
    header_part, _, rest = head.partition(b"\r\n\r\n")
    text = header_part.decode("latin-1")
    first, *hdr_lines = text.split("\r\n")
    parts = first.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("RTSP/") or not parts[1].isdigit():
        t.received(head)
        raise ValueError(f"not an RTSP reply: {first[:80]!r}")
    headers: dict[str, str] = {}
    for line in hdr_lines:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = rest
    try:
        length = min(int(headers.get("content-length", "0")), MAX_BODY)
    except ValueError:
        length = 0
    if length > len(body):
        body += read_exact(sock, length - len(body), total_timeout=timeout)
    t.received(header_part + b"\r\n\r\n" + body[:length])
    return Reply(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body[:length])
