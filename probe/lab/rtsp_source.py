"""The lab camera's "encoder": announces one H.264 stream to rtsp-server-perl and holds it.

A stand-in (documented in docs/lab.md): rtsp-server-perl serves only what a source has
ANNOUNCEd and RECORDed, and unmounts it when the source disconnects; a real camera's encoder
keeps a session open the same way. It sends no media (DESCRIBE, the part checks test, needs only
the announced SDP), lives inside the device namespace, talks only to 127.0.0.1 there, and exits
after --lifetime seconds at the latest.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

SDP = ("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=lab camera\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:streamid=0\r\n")


def _request(sock: socket.socket, lines: list[str], body: str = "") -> bytes:
    head = "\r\n".join(lines + ([f"Content-Length: {len(body)}"] if body else [])) + "\r\n\r\n"
    sock.sendall((head + body).encode())
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 8192:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=5545)
    ap.add_argument("--path", default="/live")
    ap.add_argument("--lifetime", type=float, default=6 * 3600)
    args = ap.parse_args()
    url = f"rtsp://127.0.0.1:{args.port}{args.path}"
    sock = None
    for _ in range(100):  # the server may still be starting: 100 x 0.1 s at most
        try:
            sock = socket.create_connection(("127.0.0.1", args.port), timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    if sock is None:
        print("rtsp_source: server not reachable", file=sys.stderr)
        return 1
    answer = _request(sock, [f"ANNOUNCE {url} RTSP/1.0", "CSeq: 1", "Content-Type: application/sdp"], SDP)
    if b" 200 " not in answer.split(b"\r\n", 1)[0]:
        print(f"rtsp_source: ANNOUNCE refused: {answer[:200]!r}", file=sys.stderr)
        return 1
    _request(sock, [f"SETUP {url}/streamid=0 RTSP/1.0", "CSeq: 2",
                    "Transport: RTP/AVP/UDP;unicast;client_port=40000-40001;mode=record"])
    _request(sock, [f"RECORD {url} RTSP/1.0", "CSeq: 3", "Range: npt=0.000-"])
    print(f"rtsp_source: announced {url}", flush=True)
    deadline = time.monotonic() + args.lifetime
    sock.settimeout(1.0)
    while time.monotonic() < deadline:  # hold the session; the server unmounts when we leave
        try:
            if sock.recv(4096) == b"":
                return 0
        except TimeoutError:
            continue
        except OSError:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
