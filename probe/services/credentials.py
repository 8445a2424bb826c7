"""Default-credential lists: the built-in one (probe/data/credentials.csv) and the operator's.

Columns: service,username,password,source,rank. `service` is a protocol name (ssh, telnet, ftp,
http, mqtt, snmp; http rows also apply to https) or `*` for every login service except SNMP,
whose rows carry a community string in `password`. Lower rank is tried first. Each built-in
row names the openly licensed list it comes from; nmap's and changeme's lists are deliberately
not used (licences). Rows from the operator's file (`--credentials FILE`) are tried before the
built-in ones and are treated as secrets: transcripts show them redacted.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
from dataclasses import dataclass
from pathlib import Path

from probe.errors import UserError

COLUMNS = ("service", "username", "password", "source", "rank")
SERVICES = ("*", "ssh", "telnet", "ftp", "http", "https", "mqtt", "snmp")


@dataclass(frozen=True)
class Credential:
    service: str
    username: str
    password: str
    source: str
    rank: int
    secret: bool = False  # operator-supplied: redact in evidence
    # why this pair was moved to the front for this device (a vendor or product fingerprint that
    # matched), "" for the general list's order
    selected_by: str = ""

    def label(self) -> str:
        if self.service == "snmp":
            return "community <operator-supplied>" if self.secret else f"community {self.password!r}"
        if self.secret:
            return f"{self.username or '(none)'} / <operator-supplied password>"
        return f"{self.username or '(none)'} / {self.password or '(empty)'}"


def parse(text: str, where: str, *, secret: bool) -> list[Credential]:
    """Parse CSV text; any malformed line is a UserError naming the file and line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:  # NUL bytes, an over-long field, a line break inside an unquoted field
        raise UserError(f"{where}:{reader.line_num}: not readable as CSV ({exc})") from None
    if not rows:
        raise UserError(f"{where}: empty credential file (expected a header: {','.join(COLUMNS)})")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("service", "username", "password") if c not in header]
    if missing:
        raise UserError(f"{where}:1: header lacks {', '.join(missing)} (expected {','.join(COLUMNS)})")
    idx = {name: header.index(name) for name in COLUMNS if name in header}
    out: list[Credential] = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or (len(row) == 1 and not row[0].strip()) or row[0].lstrip().startswith("#"):
            continue
        if len(row) != len(header):
            raise UserError(f"{where}:{n}: expected {len(header)} fields, found {len(row)}")
        service = row[idx["service"]].strip().lower()
        if service not in SERVICES:
            raise UserError(f"{where}:{n}: unknown service {service!r} (use one of {', '.join(SERVICES)})")
        rank_text = row[idx["rank"]].strip() if "rank" in idx else ""
        try:
            rank = int(rank_text) if rank_text else 0
        except ValueError:
            raise UserError(f"{where}:{n}: rank {rank_text!r} is not a whole number") from None
        source = row[idx["source"]].strip() if "source" in idx else ""
        username, password = row[idx["username"]], row[idx["password"]]
        if service == "snmp" and not password:
            raise UserError(f"{where}:{n}: an snmp row needs the community string in 'password'")
        if any("\n" in v or "\r" in v for v in (username, password)):
            raise UserError(f"{where}:{n}: line breaks are not allowed in credentials")
        out.append(Credential(service, username, password, source or where, rank, secret))
    return out


def builtin() -> list[Credential]:
    text = (importlib.resources.files("probe") / "data" / "credentials.csv").read_text("utf-8")
    return parse(text, "probe/data/credentials.csv", secret=False)


def load_user_file(path: str | Path) -> list[Credential]:
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise UserError(f"{p}: credential file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: cannot read credential file ({exc})") from None
    return parse(text, str(p), secret=True)


def ranked(protocol: str, user_file: str | Path | None, selected: list[Credential]) -> list[Credential]:
    """Candidates for one service of one device: the operator's first, then the pairs the device's
    fingerprint selected (its maker's or product's defaults, in `selected`'s order), then the
    built-in list by rank; a pair appears once, where it first comes (a selected pair that is also
    in the built-in list keeps the fingerprint's source and reason)."""
    general = for_service(protocol, user_file)
    user = [c for c in general if c.secret]
    out: list[Credential] = []
    seen: set[tuple[str, str]] = set()
    for c in [*user, *selected, *general]:
        key = (c.username, c.password)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def for_service(protocol: str, user_file: str | Path | None = None) -> list[Credential]:
    """Candidates for one protocol, operator's first, then built-in by rank; duplicates dropped."""
    proto = "http" if protocol == "https" else protocol
    if proto == "mqtts":
        proto = "mqtt"
    user = load_user_file(user_file) if user_file else []
    out: list[Credential] = []
    seen: set[tuple[str, str]] = set()
    for group in (user, builtin()):
        matching = [c for c in group
                    if (c.service in (proto, protocol)) or (c.service == "*" and proto != "snmp")]
        for c in sorted(matching, key=lambda c: c.rank):
            key = (c.username, c.password)
            if key not in seen:
                seen.add(key)
                out.append(c)
    return out
