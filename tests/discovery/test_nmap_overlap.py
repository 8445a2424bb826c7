"""nmap gap-filling starts on a port as soon as our identification has given up on it (issue 14),
against real servers on loopback: the media NAS's binary "SDK" service (the lab's own script,
which nothing names) and lighttpd, with the real nmap."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from probe.discovery import discover, nmap_scan
from probe.discovery import fingerprint as fp
from probe.options import DiscoveryOptions, ScanMethod, ScanOptions
from probe.session import TargetSession
from probe.store import EvidenceStore
from tests.helpers.daemons import LocalDaemons
from tests.helpers.processes import require

SDK_SCRIPT = Path(__file__).resolve().parents[2] / "probe/lab/templates/socat/sdk-service.sh"


def test_nmap_starts_while_other_ports_are_still_being_identified(daemons: LocalDaemons,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The web port's identification is held until nmap has started on the SDK port (at most
    30 s): had nmap waited for every port's identification, as it used to, the hold would run out
    first. nmap still holds a connection slot, and its XML is still kept."""
    require("nmap")
    sdk = daemons.console(SDK_SCRIPT.read_text())
    web = daemons.lighttpd({})
    nmap_started = threading.Event()
    held: dict[str, bool] = {}
    real_fingerprint, real_scan = fp.fingerprint, nmap_scan.scan_port

    def fingerprint(host: str, port: int, **kw: Any) -> fp.Fingerprint:
        if port == web:
            held["nmap first"] = nmap_started.wait(30)
        return real_fingerprint(host, port, **kw)

    def scan_port(host: str, port: int, **kw: Any) -> nmap_scan.NmapService:
        nmap_started.set()
        return real_scan(host, port, **kw)

    monkeypatch.setattr(fp, "fingerprint", fingerprint)
    monkeypatch.setattr(nmap_scan, "scan_port", scan_port)
    options = ScanOptions(discovery=DiscoveryOptions(method=ScanMethod.CONNECT, nmap_timeout=2.0))
    session = TargetSession("127.0.0.1", options, EvidenceStore())
    found = discover(session, (sdk, web), ())
    assert held == {"nmap first": True}
    services = {s.port: s for s in found.services}
    assert services[sdk].confidence == "port" and services[web].protocol == "http"
    assert found.stats["nmap_ports"] == [sdk] and "nmap_seconds" in found.stats
    assert found.stats["nmap_started_s"] < found.stats["identify_seconds"]
    assert [a.port for a in session.store.snapshot()[2].values() if a.kind == "nmap-xml"] == [sdk]
