"""What changed between two runs of the same device: clause verdicts, findings and services.

A lab does not scan once: the manufacturer fixes what FAILed and the device is scanned again. This
module compares two saved evidence documents (no network): per clause the verdict before and
after and the findings it rests on that appeared, disappeared or changed; per finding its status;
per service the ports opened or closed and changed protocol, product, version, banner, TLS,
certificates and roles. It also says whether anything **got worse**, so that CI can gate a
firmware build on it (docs/diff.md states every transition precisely).

Findings are matched by a stable key that does not depend on run order (finding ids do): check,
host, transport and port, plus what the check says a finding is about when it reports several per
service (its metadata's `finding_key`: fields of the finding's details, e.g. an update URL). Two
findings of one document that still share a key are told apart by their content, never by id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from probe.output.pack import read_artefact

VERDICT_ORDER = ("PASS", "NOT_APPLICABLE", "MANUAL", "INCONCLUSIVE", "FAIL")

# how a transition is classed (docs/diff.md); "worse" sets exit code 1, "untested" exit code 4
WORSE, BETTER, UNTESTED, CHANGED, UNCHANGED = "worse", "better", "untested", "changed", "unchanged"
EXIT_SAME, EXIT_WORSE, EXIT_USAGE, EXIT_REFUSED, EXIT_UNTESTED = 0, 1, 2, 3, 4


def classify(before: str | None, after: str | None) -> tuple[str, str]:
    """(class, why) of a verdict or finding status moving from `before` to `after` (None: absent).

    worse:    a new FAIL (anything, or nothing, -> FAIL), or a PASS lost (PASS -> FAIL,
              INCONCLUSIVE or MANUAL);
    better:   FAIL -> PASS, NOT_APPLICABLE or MANUAL (no failure shown any more), or
              INCONCLUSIVE -> PASS / NOT_APPLICABLE (now tested), or a FAIL gone;
    untested: something that was decided (FAIL, MANUAL, NOT_APPLICABLE) or absent is now
              INCONCLUSIVE: not worse, but the new run shows less;
    changed:  any other move (PASS -> NOT_APPLICABLE, MANUAL <-> NOT_APPLICABLE, INCONCLUSIVE ->
              MANUAL, a PASS or NOT_APPLICABLE that appeared or disappeared).
    """
    if before == after:
        return UNCHANGED, "unchanged"
    if after == "FAIL":
        return WORSE, "new FAIL" if before is None else f"new FAIL (was {before})"
    if before == "PASS" and after in ("INCONCLUSIVE", "MANUAL"):
        return WORSE, f"PASS lost (now {after})"
    if before == "FAIL":
        if after is None:
            return BETTER, "FAIL gone"
        if after == "INCONCLUSIVE":
            return UNTESTED, "FAIL not shown any more, but not tested either (INCONCLUSIVE): not proven fixed"
        return BETTER, f"FAIL resolved (now {after})"
    if after == "INCONCLUSIVE":
        return UNTESTED, "now INCONCLUSIVE (not tested)" if before is None else f"was {before}, now not tested"
    if before == "INCONCLUSIVE" and after in ("PASS", "NOT_APPLICABLE"):
        return BETTER, f"now tested ({after})"
    return CHANGED, f"{before or 'absent'} -> {after or 'absent'}"


# ------------------------------------------------------------------------------------- keys


@dataclass(frozen=True, order=True)
class FindingKey:
    """Which finding this is, the same in any run: never the finding id (ids follow run order)."""

    check: str
    host: str
    transport: str
    port: int  # -1 for a finding about the whole device
    about: tuple[str, ...] = ()  # the check's finding_key values, in its metadata's order
    nth: int = 1  # >1 only when one document holds several findings with the same key

    def text(self) -> str:
        where = self.host if self.port < 0 else f"{self.host}:{self.port}/{self.transport}"
        about = f" [{' | '.join(self.about)}]" if self.about else ""
        return f"{self.check} @ {where}{about}" + (f" #{self.nth}" if self.nth > 1 else "")

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "host": self.host, "transport": self.transport or None,
                "port": None if self.port < 0 else self.port, "about": list(self.about), "nth": self.nth,
                "text": self.text()}


def _about_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def finding_keys(doc: dict[str, Any], key_fields: Callable[[str], tuple[str, ...]],
                 host_map: dict[str, str] | None = None) -> dict[str, FindingKey]:
    """finding id -> stable key, for every finding of one document."""
    host_map = host_map or {}
    base: dict[str, FindingKey] = {}
    for f in doc.get("findings") or []:
        details = f.get("details") if isinstance(f.get("details"), dict) else {}
        about = tuple(_about_value(details.get(name)) for name in key_fields(str(f.get("check_id"))))
        port = f.get("port")
        base[f["id"]] = FindingKey(str(f.get("check_id")), host_map.get(f.get("host"), str(f.get("host"))),
                                   str(f.get("transport") or ("tcp" if port is not None else "")),
                                   port if isinstance(port, int) else -1, about)
    # a key shared inside one document: number the findings by their content, not by their ids
    groups: dict[FindingKey, list[dict[str, Any]]] = {}
    by_id = {f["id"]: f for f in doc.get("findings") or []}
    for fid, key in base.items():
        groups.setdefault(key, []).append(by_id[fid])
    out: dict[str, FindingKey] = {}
    for key, members in groups.items():
        if len(members) == 1:
            out[members[0]["id"]] = key
            continue
        ordered = sorted(members, key=lambda f: (f.get("status", ""), f.get("title", ""), f.get("summary", ""),
                                                 json.dumps(f.get("details"), sort_keys=True, default=str)))
        for n, f in enumerate(ordered, start=1):
            out[f["id"]] = FindingKey(key.check, key.host, key.transport, key.port, key.about, n)
    return out


# ------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FindingState:
    id: str
    status: str
    title: str
    summary: str
    evidence: tuple[str, ...]  # sha256 of the artefacts the finding cites, in its order

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "title": self.title, "summary": self.summary,
                "evidence_sha256": list(self.evidence)}


@dataclass(frozen=True)
class FindingChange:
    key: FindingKey
    before: FindingState | None
    after: FindingState | None
    change: str  # appeared | disappeared | changed | unchanged
    cls: str  # worse | better | untested | changed | unchanged (see classify)
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key.to_json(), "change": self.change, "class": self.cls, "why": self.why,
                "before": self.before.to_json() if self.before else None,
                "after": self.after.to_json() if self.after else None}


@dataclass(frozen=True)
class ClauseChange:
    id: str
    target: str
    title: str
    title_ja: str | None
    before: str | None  # verdict; None when the clause was not in the old run's scope
    after: str | None
    cls: str
    why: str
    findings: tuple[FindingChange, ...]  # the clause's findings (deciding or supporting) that changed

    @property
    def moved(self) -> bool:
        """The verdict changed, or a finding the clause rests on appeared, disappeared or changed."""
        return self.cls != UNCHANGED or bool(self.findings)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.target, "title": self.title, "title_ja": self.title_ja,
                "before": self.before, "after": self.after, "class": self.cls, "why": self.why,
                "findings": [f.to_json() for f in self.findings]}


@dataclass(frozen=True)
class ServiceState:
    protocol: str
    product: str | None
    version: str | None
    tls: bool
    banner: str | None  # the text the service says about itself (see banner_text), or None
    certificates: tuple[str, ...]  # SHA-256 fingerprints (DER) of the certificates seen on the port
    roles: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "product": self.product, "version": self.version, "tls": self.tls,
                "banner": self.banner, "certificates": list(self.certificates), "roles": list(self.roles)}


@dataclass(frozen=True)
class ServiceChange:
    key: str  # host:port/transport
    change: str  # opened | closed | changed
    before: ServiceState | None
    after: ServiceState | None
    fields: tuple[tuple[str, Any, Any], ...] = ()  # (field, before, after) for a changed service

    def to_json(self) -> dict[str, Any]:
        return {"service": self.key, "change": self.change,
                "before": self.before.to_json() if self.before else None,
                "after": self.after.to_json() if self.after else None,
                "fields": [{"field": f, "before": b, "after": a} for f, b, a in self.fields]}


@dataclass(frozen=True)
class RunInfo:
    """One side of the comparison, as the evidence and its pack say."""

    source: str
    run_id: str
    started: str
    targets: tuple[str, ...]
    profile: str
    path: str | None  # "holding -> apply_for (device class)" of the chosen recognition path
    complete: bool
    tool_version: str
    integrity: str  # how the input was checked: a verified pack (signed by ...) or an evidence JSON

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "run_id": self.run_id, "started": self.started, "targets": list(self.targets),
                "profile": self.profile, "recognition_path": self.path, "complete": self.complete,
                "tool_version": self.tool_version, "integrity": self.integrity}


@dataclass(frozen=True)
class Diff:
    old: RunInfo
    new: RunInfo
    clauses: tuple[ClauseChange, ...]  # every clause (and target) of either run, changed or not
    findings: tuple[FindingChange, ...]  # every finding key of either run
    services: tuple[ServiceChange, ...]  # only services that opened, closed or changed
    notes: tuple[str, ...] = field(default=())

    def changed_clauses(self) -> list[ClauseChange]:
        """Clauses whose verdict changed or whose findings did (see ClauseChange.moved)."""
        return [c for c in self.clauses if c.moved]

    def changed_findings(self) -> list[FindingChange]:
        return [f for f in self.findings if f.change != "unchanged"]

    def worse(self) -> list[str]:
        """One line per reason the new run is worse (empty: nothing got worse)."""
        out = [f"clause {c.id} @ {c.target}: {c.before or 'not assessed'} -> {c.after}: {c.why}"
               for c in self.clauses if c.cls == WORSE]
        out += [f"finding {f.key.text()}: {f.why}" for f in self.findings if f.cls == WORSE]
        return out

    def untested(self) -> list[str]:
        out = [f"clause {c.id} @ {c.target}: {c.before or 'not assessed'} -> {c.after}: {c.why}"
               for c in self.clauses if c.cls == UNTESTED]
        out += [f"finding {f.key.text()}: {f.why}" for f in self.findings if f.cls == UNTESTED]
        if self.old.complete and not self.new.complete:
            out.insert(0, "the new run did not complete (its evidence is marked incomplete)")
        return out

    def exit_code(self) -> int:
        if self.worse():
            return EXIT_WORSE
        return EXIT_UNTESTED if self.untested() else EXIT_SAME

    def to_json(self) -> dict[str, Any]:
        code = self.exit_code()
        return {
            "format": "probe-diff", "format_version": 1,
            "old": self.old.to_json(), "new": self.new.to_json(),
            "outcome": {"exit_code": code, "worse": self.worse(), "untested": self.untested()},
            "notes": list(self.notes),
            "clauses": [c.to_json() for c in self.changed_clauses()],
            "clauses_unchanged": len(self.clauses) - len(self.changed_clauses()),
            "findings": [f.to_json() for f in self.changed_findings()],
            "findings_unchanged": len(self.findings) - len(self.changed_findings()),
            "services": [s.to_json() for s in self.services],
        }


# ----------------------------------------------------------------------------- services


def _strip_telnet(raw: bytes) -> bytes:
    """Telnet option negotiation (IAC sequences) removed, the text a login banner shows kept."""
    out = bytearray()
    i = 0
    while i < len(raw):
        b = raw[i]
        if b == 0xFF and i + 1 < len(raw):
            cmd = raw[i + 1]
            if cmd == 0xFF:
                out.append(0xFF)
                i += 2
            elif cmd == 0xFA:  # sub-negotiation up to IAC SE
                end = raw.find(b"\xff\xf0", i + 2)
                i = len(raw) if end < 0 else end + 2
            elif 0xFB <= cmd <= 0xFE:
                i += 3
            else:
                i += 2
            continue
        out.append(b)
        i += 1
    return bytes(out)


def banner_text(raw: bytes | None) -> str | None:
    """What a service says about itself in text, stable across runs; None for binary greetings.

    SSH: the identification line (the key exchange after it carries a random cookie). HTTP: the
    Server header (dates and ETags change by themselves). Otherwise the printable lines of a text
    greeting (FTP 220, telnet login banner without its option negotiation). Binary greetings
    (TLS, DNS, SNMP, MQTT) carry random numbers: their product and version are compared instead.
    """
    if not raw:
        return None
    if raw.startswith(b"SSH-"):
        return raw.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
    if raw.startswith(b"HTTP/"):
        head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        server = [line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
                  if line.lower().startswith("server:")]
        return f"Server: {server[0]}" if server else "(no Server header)"
    text = _strip_telnet(raw)
    printable = sum(1 for b in text if 0x20 <= b < 0x7F or b in (9, 10, 13))
    if not text or printable < 0.9 * len(text):
        return None
    lines = [" ".join(line.split()) for line in text.decode("latin-1").splitlines()]
    shown = " / ".join(line for line in lines if line)
    return shown[:300] or None


def _certificate_fingerprint(art: dict[str, Any]) -> str | None:
    raw = read_artefact(art)
    if raw is None:
        return None
    if raw.lstrip().startswith(b"-----BEGIN CERTIFICATE-----"):
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        try:
            raw = x509.load_pem_x509_certificate(raw).public_bytes(Encoding.DER)
        except ValueError:
            return None
    return hashlib.sha256(raw).hexdigest()


def service_states(doc: dict[str, Any], host_map: dict[str, str] | None = None) -> dict[str, ServiceState]:
    host_map = host_map or {}
    arts = {a["id"]: a for a in doc.get("artefacts") or []}
    certs: dict[tuple[str, int], set[str]] = {}
    for a in arts.values():
        if a.get("kind") == "certificate" and isinstance(a.get("port"), int):
            fp = _certificate_fingerprint(a)
            if fp:
                certs.setdefault((str(a.get("host")), a["port"]), set()).add(fp)
    out: dict[str, ServiceState] = {}
    for s in doc.get("services") or []:
        host = host_map.get(s["host"], s["host"])
        banner_art = arts.get(s.get("banner_artefact") or "")
        out[f"{host}:{s['port']}/{s['transport']}"] = ServiceState(
            protocol=str(s.get("protocol")), product=s.get("product"), version=s.get("version"),
            tls=bool(s.get("tls")), banner=banner_text(read_artefact(banner_art)) if banner_art else None,
            certificates=tuple(sorted(certs.get((s["host"], s["port"]), ()))),
            roles=tuple(sorted({str(r.get("role")) for r in s.get("roles") or []})))
    return out


def compare_services(old: dict[str, ServiceState], new: dict[str, ServiceState]) -> list[ServiceChange]:
    out: list[ServiceChange] = []
    for key in sorted(set(old) | set(new), key=_service_sort):
        b, a = old.get(key), new.get(key)
        if b is None:
            out.append(ServiceChange(key, "opened", None, a))
        elif a is None:
            out.append(ServiceChange(key, "closed", b, None))
        else:
            changed = tuple((name, getattr(b, name), getattr(a, name)) for name in
                            ("protocol", "product", "version", "tls", "banner", "certificates", "roles")
                            if getattr(b, name) != getattr(a, name))
            if changed:
                out.append(ServiceChange(key, "changed", b, a, tuple(
                    (n, list(x) if isinstance(x, tuple) else x, list(y) if isinstance(y, tuple) else y)
                    for n, x, y in changed)))
    return out


def _service_sort(key: str) -> tuple[str, str, int]:
    host, rest = key.rsplit(":", 1)
    port, transport = rest.split("/", 1)
    return host, transport, int(port)


# -------------------------------------------------------------------------------- compare


def _state(f: dict[str, Any], arts: dict[str, dict[str, Any]]) -> FindingState:
    return FindingState(str(f["id"]), str(f.get("status")), str(f.get("title") or ""), str(f.get("summary") or ""),
                        tuple(str(arts[a].get("sha256")) for a in f.get("evidence") or [] if a in arts))


def _finding_change(key: FindingKey, b: FindingState | None, a: FindingState | None) -> FindingChange:
    if b is None:
        change = "appeared"
    elif a is None:
        change = "disappeared"
    else:
        change = "unchanged" if b.status == a.status else "changed"
    cls, why = classify(b.status if b else None, a.status if a else None)
    if change == "appeared" and cls == CHANGED:
        why = f"new finding ({a.status if a else ''})"
    elif change == "disappeared" and cls == CHANGED:
        why = f"finding gone (was {b.status if b else ''})"
    return FindingChange(key, b, a, change, cls, why)


def host_mapping(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Old host -> new host when each run scanned one device under a different address."""
    ot, nt = list(old.get("targets") or []), list(new.get("targets") or [])
    if len(ot) == 1 and len(nt) == 1 and ot != nt:
        return {ot[0]: nt[0]}, [f"the runs scanned different addresses: {ot[0]} (old) is compared as {nt[0]} "
                                "(new), one device each"]
    notes = []
    if set(ot) != set(nt):
        notes.append(f"the runs scanned different targets: old {', '.join(ot)}; new {', '.join(nt)}; "
                     "findings and clauses are matched by host")
    return {}, notes


def _path_text(doc: dict[str, Any]) -> str | None:
    p = (doc.get("recognition") or {}).get("chosen_path")
    return f"{p.get('holding')} -> {p.get('apply_for')} ({p.get('device_class')})" if p else None


def run_info(doc: dict[str, Any], source: str, integrity: str) -> RunInfo:
    run = doc.get("run") or {}
    return RunInfo(source, str(run.get("id")), str(run.get("started")), tuple(doc.get("targets") or []),
                   str((doc.get("profile") or {}).get("name")), _path_text(doc), bool(run.get("complete")),
                   str((doc.get("tool") or {}).get("version")), integrity)


def compare(old: dict[str, Any], new: dict[str, Any], key_fields: Callable[[str], tuple[str, ...]], *,
            old_info: RunInfo, new_info: RunInfo) -> Diff:
    """The comparison of two evidence documents (already loaded and verified)."""
    host_map, notes = host_mapping(old, new)
    if old_info.profile != new_info.profile:
        notes.append(f"the runs used different profiles ({old_info.profile}, {new_info.profile})")
    if old_info.path != new_info.path:
        notes.append(f"the runs assessed different recognition paths ({old_info.path or 'none'}, "
                     f"{new_info.path or 'none'}): clauses only one of them assessed are listed as added or removed")
    okeys = finding_keys(old, key_fields, host_map)
    nkeys = finding_keys(new, key_fields, {})
    oarts = {a["id"]: a for a in old.get("artefacts") or []}
    narts = {a["id"]: a for a in new.get("artefacts") or []}
    ostate = {okeys[f["id"]]: _state(f, oarts) for f in old.get("findings") or []}
    nstate = {nkeys[f["id"]]: _state(f, narts) for f in new.get("findings") or []}
    changes = {k: _finding_change(k, ostate.get(k), nstate.get(k)) for k in sorted(set(ostate) | set(nstate))}

    def clause_index(doc: dict[str, Any], hmap: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(c["id"], hmap.get(c["target"], c["target"])): c for c in doc.get("clauses") or []}

    oc, nc = clause_index(old, host_map), clause_index(new, {})
    order = [k for k in nc] + [k for k in oc if k not in nc]
    clauses: list[ClauseChange] = []
    for cid, target in order:
        b, a = oc.get((cid, target)), nc.get((cid, target))
        cls, why = classify(b["verdict"] if b else None, a["verdict"] if a else None)
        if b is None:
            why = f"not assessed in the old run; {why}"
        elif a is None:
            why = "not assessed in the new run"
        keys: list[FindingKey] = []
        for doc_clause, kmap in ((b, okeys), (a, nkeys)):
            for fid in (doc_clause or {}).get("findings", []) + (doc_clause or {}).get("supporting", []):
                if fid in kmap and kmap[fid] not in keys:
                    keys.append(kmap[fid])
        moved = tuple(changes[k] for k in sorted(keys) if changes[k].change != "unchanged")
        ref = a or b or {}
        clauses.append(ClauseChange(cid, target, str(ref.get("title") or ""), ref.get("title_ja"),
                                    b["verdict"] if b else None, a["verdict"] if a else None, cls, why, moved))
    services = compare_services(service_states(old, host_map), service_states(new))
    return Diff(old_info, new_info, tuple(clauses), tuple(changes.values()), tuple(services), tuple(notes))


def artefact_problems(doc: dict[str, Any]) -> list[str]:
    """Artefacts whose content no longer matches their recorded sha256 (an edited evidence JSON)."""
    out = []
    for a in doc.get("artefacts") or []:
        raw = read_artefact(a)
        if raw is None or hashlib.sha256(raw).hexdigest() != a.get("sha256"):
            out.append(f"artefact {a.get('id')}: content does not match its sha256")
    return out
