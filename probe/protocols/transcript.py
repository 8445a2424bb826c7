"""A record of one protocol exchange, turned into a text artefact an assessor can read.

Every login attempt is evidence: a FAIL for a default password must show the bytes that prove
the login, and a PASS must show that the device really asked for credentials. Device bytes are
escaped losslessly (non-printable bytes as \\xNN, a literal backslash as \\\\) so the artefact is
plain text yet nothing the device sent is lost. Secrets the operator supplied (their own
credential file) are replaced by a marker; the public default credentials are not secrets and
stay visible, because they are the finding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

REDACTED = b"<redacted>"


def escape(data: bytes) -> str:
    """Lossless, terminal-safe text for device bytes (newlines kept as \\n plus a line break)."""
    out: list[str] = []
    for b in data:
        if b == 0x5C:
            out.append("\\\\")
        elif b == 0x0A:
            out.append("\\n\n")
        elif b == 0x0D:
            out.append("\\r")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


@dataclass
class Event:
    at: float  # seconds since the transcript started
    direction: str  # ">>" sent, "<<" received, "--" note
    data: bytes


@dataclass
class Transcript:
    """What one client sent and received, in order, with relative timestamps."""

    protocol: str
    host: str
    port: int
    secrets: tuple[bytes, ...] = ()
    events: list[Event] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    max_bytes: int = 256 * 1024  # a flood cannot grow a transcript without bound

    def _size(self) -> int:
        return sum(len(e.data) for e in self.events)

    def _add(self, direction: str, data: bytes) -> None:
        for s in self.secrets:
            if s:
                data = data.replace(s, REDACTED)
        room = self.max_bytes - self._size()
        if room <= 0:
            return
        if len(data) > room:
            data = data[:room] + b"...[transcript cap reached]"
        self.events.append(Event(time.monotonic() - self.started, direction, data))

    def sent(self, data: bytes) -> None:
        self._add(">>", data)

    def received(self, data: bytes) -> None:
        if data:
            self._add("<<", data)

    def note(self, text: str) -> None:
        self._add("--", text.encode("utf-8"))

    def text(self) -> str:
        lines = [f"# probe transcript: {self.protocol} {self.host}:{self.port}",
                 "# >> sent by probe, << received from the device, -- probe's note;"
                 " bytes escaped as \\xNN, \\r, \\n"]
        for e in self.events:
            body = e.data.decode("utf-8", "replace") if e.direction == "--" else escape(e.data)
            lines.append(f"[{e.at:8.3f}s] {e.direction} {body}")
        return "\n".join(lines) + "\n"

    def render(self) -> bytes:
        return self.text().encode("utf-8")

    def verbatim(self) -> bytes:
        """The exchange byte for byte, each event on its own line behind `>>> `, `<<< ` or `--- `:
        for evidence where the device's exact bytes (escape sequences included) must stand as sent.
        Not redacted beyond `secrets`, not escaped: never print it to a terminal."""
        marks = {">>": b">>> ", "<<": b"<<< ", "--": b"--- "}
        out = bytearray()
        for e in self.events:
            out += marks[e.direction] + e.data + (b"" if e.data.endswith(b"\n") else b"\n")
        return bytes(out)
