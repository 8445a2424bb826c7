"""Line-oriented reads (FTP replies, HTTP headers) on top of probe.protocols.netio's bounded reads."""

from __future__ import annotations

import socket
import time

from probe.protocols.netio import ReadTimeout, read_some


class LineReader:
    """Buffered, bounded line reader: every line has a length cap, every wait a time cap."""

    def __init__(self, sock: socket.socket, *, max_line: int = 8192, max_total: int = 256 * 1024) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.max_line = max_line
        self.max_total = max_total
        self.total = 0
        self.closed = False

    def readline(self, timeout: float) -> bytes:
        """One line including its b"\\n"; raises ReadTimeout / ConnectionResetError with the partial data."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if len(self.buf) > self.max_line or self.total > self.max_total:
                raise ReadTimeout(bytes(self.buf), timeout)  # treated like a stall: no sane answer
            if self.closed:
                raise ConnectionResetError("peer closed the connection")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReadTimeout(bytes(self.buf), timeout)
            res = read_some(self.sock, max_bytes=4096, total_timeout=remaining, idle_timeout=remaining,
                            until=b"\n")
            self.buf += res.data
            self.total += len(res.data)
            if res.closed:
                self.closed = True
        i = self.buf.index(b"\n") + 1
        line = bytes(self.buf[:i])
        del self.buf[:i]
        return line
