"""Which default pairs a device's own maker or product ships, from what the device shows (no network).

Two sources, each recorded on the pairs it selects:
- probe's own list, probe/data/vendor_credentials.yaml: makers named in the device's clues
  (banners, web title/realm/Server, UPnP, SNMP sysDescr, certificate subject; see
  probe.services.device_clues) select that maker's pairs for telnet and SSH, where Mirai's pairs
  apply;
- the installed nmap's http-default-accounts fingerprints (probe.compliance.nmap_fingerprints),
  matched against the unauthenticated HTTP answers probe holds for the web service under test:
  a fingerprint whose path probe read and whose every condition holds selects its pairs for that
  web service.
The selected pairs go before the general list (probe.services.credentials.ranked); the budget and
the proof of a login are unchanged, so a match changes the order of the trials, never the verdict
rules.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from dataclasses import dataclass, field
from typing import Any

from probe import yamlfile
from probe.compliance import nmap_fingerprints
from probe.compliance.nmap_fingerprints import NmapData, WebAnswer

VENDOR_FILE = "probe/data/vendor_credentials.yaml"
DEFAULT_SERVICES = ("telnet", "ssh")


@dataclass(frozen=True)
class Vendor:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    pairs: tuple[tuple[str, str], ...]
    services: tuple[str, ...]


@dataclass(frozen=True)
class Pick:
    """One selected pair and why."""

    username: str
    password: str
    source: str
    why: str


@dataclass
class Selection:
    picks: list[Pick] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)  # what matched, for the evidence

    def add(self, username: str, password: str, source: str, why: str) -> None:
        if not any((p.username, p.password) == (username, password) for p in self.picks):
            self.picks.append(Pick(username, password, source, why))


@functools.cache
def vendors() -> tuple[str, tuple[Vendor, ...]]:
    """(the list's source, its vendors) from probe/data/vendor_credentials.yaml."""
    text = (importlib.resources.files("probe") / "data" / "vendor_credentials.yaml").read_text("utf-8")
    doc = yamlfile.safe_load(text)
    out = []
    for v in doc["vendors"]:
        out.append(Vendor(str(v["vendor"]), tuple(re.compile(p, re.I) for p in v["match"]),
                          tuple((str(u), str(p)) for u, p in v["pairs"]),
                          tuple(v.get("services", DEFAULT_SERVICES))))
    return str(doc["source"]), tuple(out)


def vendor_services() -> set[str]:
    """The protocols some maker's pairs apply to."""
    return {p for v in vendors()[1] for p in v.services}


@functools.cache
def nmap_data() -> NmapData:
    """The installed nmap's fingerprints, read once per process."""
    return nmap_fingerprints.load()


def select(protocol: str, clues: list[dict[str, Any]], answers: list[WebAnswer],
           nmap: NmapData | None) -> Selection:
    """The pairs the device's maker or product selects for one service, in order: nmap's product
    fingerprints first (they name the product of this very web service), then probe's maker list."""
    sel = Selection()
    proto = "http" if protocol in ("http", "https") else protocol
    if proto == "http" and nmap is not None:
        for fp in nmap.fingerprints:
            for a in answers:
                if a.path in fp.paths and fp.match(a):
                    conds = "; ".join(t for t, _ in fp.conditions)
                    sel.matches.append({"source": nmap_fingerprints.SOURCE, "name": fp.name, "path": a.path,
                                        "conditions": conds, "pairs": len(fp.pairs), "file": nmap.path})
                    for u, p in fp.pairs:
                        sel.add(u, p, f"{nmap_fingerprints.SOURCE} ({nmap.path}, read at run time)",
                                f"nmap fingerprint {fp.name!r} matched the answer to GET {a.path}")
                    break
    source, vendor_list = vendors()
    for v in vendor_list:
        if proto not in v.services:
            continue
        for clue in clues:
            m = next((m for pat in v.patterns if (m := pat.search(str(clue["text"])))), None)
            if m is None:
                continue
            sel.matches.append({"source": f"probe vendor list ({VENDOR_FILE})", "name": v.name,
                                "clue": clue["kind"], "where": clue["where"], "matched": m.group(0),
                                "pairs": len(v.pairs)})
            for u, p in v.pairs:
                sel.add(u, p, f"{VENDOR_FILE}: {source}",
                        f"{v.name}: {clue['kind']} at {clue['where']} names it ({m.group(0)!r})")
            break
    return sel
