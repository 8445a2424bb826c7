"""Ground truth of the lab devices, read and judged with the test suite's own code.

A truth file (`probe/lab/variants/<variant>.truth.yaml`, format in docs/lab.md) says, from the
device's configuration and with a citation for every statement, which services the device opens,
which roles each has, and what every check of the profile must find on each service. It holds no
clause verdicts: `derive_verdicts` computes them from those expected findings and the evidence
rules of the catalog (`probe/data/catalog/*.yaml`, read here as plain YAML), by the rules of the
evidence contract (docs/verdicts.md). Nothing in this module imports probe: the point is to compare
probe's output with an independent reading of the same data, not with itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
VARIANTS = REPO / "probe" / "lab" / "variants"
CATALOG = REPO / "probe" / "data" / "catalog"

FINDING_STATUSES = ("FAIL", "INCONCLUSIVE", "PASS", "NOT_APPLICABLE")  # worst first
VERDICTS = (*FINDING_STATUSES, "MANUAL")
ROLES = ("management", "update", "data", "device-api")
EFFECTS = ("decides", "fails-only", "supports")
ASSESSMENTS = ("network", "partly-network", "documents-only")
DEVICE = "device"
# Clauses whose default-password FAIL becomes INCONCLUSIVE (reason device-state) when the operator
# says the device is in its factory state: EN 303 645 5.1-1 and PSTI para 1 exempt that state.
FACTORY_STATE_CLAUSES = frozenset({"cls:5.1-1", "cls:5.1-2", "jc-star:S1.1-02", "uk-psti:1"})

_KEY = re.compile(r"^(tcp|udp)/(\d{1,5})$")
_CITE = re.compile(r"^(?P<path>[\w./@-]+):(?P<line>\d+) (?P<text>.+)$")


class TruthError(ValueError):
    """A truth file that does not follow the format: one line naming the file and the problem."""


# ------------------------------------------------------------------------------- the truth file


@dataclass(frozen=True)
class Role:
    name: str
    needs_login: bool  # only visible after logging in: a scan without credentials cannot see it
    why: str


@dataclass(frozen=True)
class ServiceTruth:
    key: str  # "tcp/443"
    protocol: str
    roles: tuple[Role, ...]

    def visible_roles(self) -> frozenset[str]:
        """The roles a scan without the operator's credentials can observe."""
        return frozenset(r.name for r in self.roles if not r.needs_login)


@dataclass(frozen=True)
class Expectation:
    check: str
    key: str  # a service key or "device"
    status: str
    scans: frozenset[str]  # the scans this expectation is for
    why: str


@dataclass(frozen=True)
class Must:
    clause: str
    negate: bool  # True: "must not be <verdict>"
    verdict: str
    scans: frozenset[str]
    why: str

    def holds(self, got: str) -> bool:
        return (got != self.verdict) if self.negate else (got == self.verdict)

    def describe(self) -> str:
        return f"{self.clause} must {'not ' if self.negate else ''}be {self.verdict} ({self.why})"


@dataclass(frozen=True)
class Truth:
    path: Path
    variant: str
    profile: str
    scans: dict[str, tuple[str, ...]]  # scan name -> probe run options (besides target, profile, out)
    ca_file: bool  # the manufacturer's CA is an input of every scan (--ca-file <lab CA>)
    shared_state: str | None  # why the device's login state must be reset before each scan
    parallel_scans: str | None  # why this device's scans may overlap (None: one at a time)
    services: dict[str, ServiceTruth]
    findings: tuple[Expectation, ...]
    must: tuple[Must, ...]
    raw: dict[str, Any]

    def expected(self, scan: str) -> dict[tuple[str, str], str]:
        """(check, service key) -> expected status, for one scan."""
        return {(e.check, e.key): e.status for e in self.findings if scan in e.scans}

    def visible_roles(self) -> dict[str, frozenset[str]]:
        return {k: s.visible_roles() for k, s in self.services.items()}


def _fail(path: Path, msg: str) -> TruthError:
    return TruthError(f"{path.name}: {msg}")


def _text(path: Path, value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{where}: needs a non-empty text")
    return value


def _cites(path: Path, entry: dict[str, Any], where: str) -> None:
    """Every statement rests on the configuration (`cite`) or a documented daemon default (`source`)."""
    cite, source = entry.get("cite"), entry.get("source")
    if not cite and not source:
        raise _fail(path, f"{where}: needs 'cite' (config file:line) or 'source' (daemon default)")
    if cite is not None and (not isinstance(cite, list) or not all(isinstance(c, str) for c in cite)):
        raise _fail(path, f"{where}: 'cite' must be a list of 'path:LINE text' strings")


def _scan_set(path: Path, entry: dict[str, Any], scans: Iterable[str], where: str) -> frozenset[str]:
    wanted = entry.get("scans")
    if wanted is None:
        return frozenset(scans)
    if not isinstance(wanted, list) or not set(wanted) <= set(scans) or not wanted:
        raise _fail(path, f"{where}: 'scans' must list some of {sorted(scans)}")
    return frozenset(wanted)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML keeps the last of two equal keys without a word; in a hand-written truth file the
    first would silently vanish, so a repeated key is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(k, deep=deep) for k, _v in node.value]
        for key in keys:
            if keys.count(key) > 1:
                raise yaml.constructor.ConstructorError(None, None, f"repeated key {key!r}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_truth(path: Path) -> Truth:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise _fail(path, "must be a mapping")
    unknown = set(raw) - {"variant", "profile", "scans", "inputs", "shared_state", "parallel_scans", "services",
                          "findings", "must", "gaps"}
    if unknown:
        raise _fail(path, f"unknown keys {sorted(unknown)}")
    scans_raw = raw.get("scans")
    if not isinstance(scans_raw, dict) or not scans_raw:
        raise _fail(path, "'scans' must map scan names to option lists")
    scans = {str(k): tuple(str(o) for o in (v or [])) for k, v in scans_raw.items()}
    inputs = raw.get("inputs") or {}
    if set(inputs) - {"ca_file"}:
        raise _fail(path, f"unknown inputs {sorted(set(inputs) - {'ca_file'})}")
    reasons: dict[str, str | None] = {}
    for key in ("shared_state", "parallel_scans"):
        entry = raw.get(key)
        if entry is not None:
            if not isinstance(entry, dict):
                raise _fail(path, f"{key}: needs 'why' and a citation")
            _cites(path, entry, key)
            entry = _text(path, entry.get("why"), f"{key}.why")
        reasons[key] = entry
    if reasons["shared_state"] and reasons["parallel_scans"]:
        raise _fail(path, "scans that share state cannot run in parallel")

    services: dict[str, ServiceTruth] = {}
    for key, entry in (raw.get("services") or {}).items():
        where = f"services.{key}"
        if not _KEY.match(str(key)) or not isinstance(entry, dict):
            raise _fail(path, f"{where}: keys are 'tcp/PORT' or 'udp/PORT' mapping to a service")
        _cites(path, entry, where)
        roles = []
        for name, role in (entry.get("roles") or {}).items():
            if name not in ROLES:
                raise _fail(path, f"{where}: unknown role {name!r} (one of {', '.join(ROLES)})")
            _cites(path, role, f"{where}.roles.{name}")
            roles.append(Role(name, bool(role.get("needs_login", False)),
                              _text(path, role.get("why"), f"{where}.roles.{name}.why")))
        services[str(key)] = ServiceTruth(str(key), _text(path, entry.get("protocol"), f"{where}.protocol"),
                                          tuple(roles))

    findings = []
    for check, per_key in (raw.get("findings") or {}).items():
        if not isinstance(per_key, dict) or not per_key:
            raise _fail(path, f"findings.{check}: map service keys (or 'device') to expectations")
        for key, entry in per_key.items():
            where = f"findings.{check}.{key}"
            if key != DEVICE and key not in services:
                raise _fail(path, f"{where}: {key} is not among the services")
            if not isinstance(entry, dict) or entry.get("status") not in FINDING_STATUSES:
                raise _fail(path, f"{where}: status must be one of {', '.join(FINDING_STATUSES)}")
            _cites(path, entry, where)
            findings.append(Expectation(str(check), str(key), entry["status"], _scan_set(path, entry, scans, where),
                                        _text(path, entry.get("why"), f"{where}.why")))

    must = []
    for i, entry in enumerate(raw.get("must") or []):
        where = f"must[{i}]"
        ops = [op for op in ("is", "not") if op in entry]
        if len(ops) != 1 or entry[ops[0]] not in VERDICTS:
            raise _fail(path, f"{where}: give exactly one of 'is'/'not' with a verdict")
        _cites(path, entry, where)
        must.append(Must(_text(path, entry.get("clause"), f"{where}.clause"), ops[0] == "not", entry[ops[0]],
                         _scan_set(path, entry, scans, where), _text(path, entry.get("why"), f"{where}.why")))
    for i, gap in enumerate(raw.get("gaps") or []):
        _text(path, gap.get("note") if isinstance(gap, dict) else None, f"gaps[{i}].note")
    return Truth(path, _text(path, raw.get("variant"), "variant"), _text(path, raw.get("profile"), "profile"),
                 scans, bool(inputs.get("ca_file", False)), reasons["shared_state"], reasons["parallel_scans"],
                 services, tuple(findings), tuple(must), raw)


def truth_path(variant: str) -> Path:
    return VARIANTS / f"{variant}.truth.yaml"


def citations(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """Every (where, 'path:LINE text') citation anywhere in a truth document."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "cite" and isinstance(v, list):
                for c in v:
                    yield f"{where}.cite", str(c)
            else:
                yield from citations(v, f"{where}.{k}" if where else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from citations(v, f"{where}[{i}]")


def citation_problem(cite: str) -> str | None:
    """None when the cited line of the repository file carries the quoted text."""
    m = _CITE.match(cite)
    if not m:
        return f"not 'path:LINE text': {cite!r}"
    path = REPO / m["path"]
    if not path.is_file():
        return f"no file {m['path']}"
    lines = path.read_text(encoding="utf-8").splitlines()
    line = int(m["line"])
    if not 1 <= line <= len(lines):
        return f"{m['path']} has no line {line}"
    squash = " ".join
    if squash(m["text"].split()) not in squash(lines[line - 1].split()):
        return f"{m['path']}:{line} does not say {m['text']!r} (it says {lines[line - 1].strip()!r})"
    return None


# ------------------------------------------------------------------------- profile and checks


@cache
def profile(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "profiles" / f"{name}.yaml").read_text(encoding="utf-8"))


@cache
def check_meta(check_id: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "checks" / f"{check_id}.yaml").read_text(encoding="utf-8"))


def covered_keys(truth: Truth, check_id: str, scan: str) -> set[str]:
    """The service keys (or 'device') a check must have an expectation for in one scan.

    A device-scoped check judges the device once; a service-scoped check judges every service
    whose protocol is in its `services:` list (checks/<id>.yaml). A brute-force-test check that the
    scan did not opt in to is one device-level INCONCLUSIVE (not-opted-in): README, "Being careful
    with devices".
    """
    meta = check_meta(check_id)
    if meta.get("scope") == "device":
        return {DEVICE}
    if meta.get("intrusiveness") == "brute-force-test" and "--allow-brute-force-test" not in truth.scans[scan]:
        return {DEVICE}
    wanted = set(meta.get("services") or ())
    return {k for k, s in truth.services.items() if s.protocol in wanted}


# ----------------------------------------------------------------------------- catalog rules


@dataclass(frozen=True)
class Rule:
    id: str
    check: str
    roles: frozenset[str]  # empty: any service, and device-scoped findings
    effect: str

    def selects(self, check: str, key: str, roles: Mapping[str, frozenset[str]]) -> bool:
        if check != self.check:
            return False
        if not self.roles:
            return True
        return key != DEVICE and bool(self.roles & roles.get(key, frozenset()))


@dataclass(frozen=True)
class Clause:
    id: str
    assessment: str
    text_confirmed: bool
    device_classes: frozenset[str]  # empty: every device class
    rules: tuple[Rule, ...] | None  # None: the catalog has no evidence rules for it (yet)

    def applies_to(self, device_class: str) -> bool:
        return not self.device_classes or device_class in self.device_classes


def load_catalog(directory: Path = CATALOG) -> dict[str, Clause]:
    """Clauses of every scheme file, with their `evidence:` rules (the data, not probe's code)."""
    out: dict[str, Clause] = {}
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        scheme = doc["scheme"]
        for c in doc["clauses"]:
            cid = f"{scheme}:{c['number']}"
            rules = None
            if "evidence" in c:
                rules = tuple(Rule(f"{cid}#{r['id']}", str(r["check"]), frozenset(r.get("roles") or ()),
                                   str(r["effect"])) for r in (c["evidence"] or ()))
                bad = [r.effect for r in rules if r.effect not in EFFECTS]
                if bad:
                    raise ValueError(f"{path.name}: {cid}: unknown evidence effect {bad[0]!r}")
            out[cid] = Clause(cid, str(c["assessment"]), bool(c.get("text_confirmed", True)),
                              frozenset(c.get("device_classes") or ()), rules)
    if any(c.rules is not None for c in out.values()):  # the rules format: a clause without any has none
        out = {cid: c if c.rules is not None else Clause(c.id, c.assessment, c.text_confirmed, c.device_classes, ())
               for cid, c in out.items()}
    return out


def in_scope(catalog: Mapping[str, Clause], profile_name: str) -> dict[str, Clause]:
    prof = profile(profile_name)
    schemes = set(prof["schemes"])
    return {cid: c for cid, c in catalog.items()
            if cid.split(":", 1)[0] in schemes and c.applies_to(prof["device_class"])}


# ------------------------------------------------------------------------- clause verdicts


def clause_verdict(clause: Clause, findings: Iterable[tuple[str, str, str]],
                   roles: Mapping[str, frozenset[str]], device_state: str = "initialised") -> str:
    """The verdict the evidence contract gives clause C on one target.

    `findings` are (check, service key or 'device', status). D = the findings selected by C's
    rules whose effect is `decides` or `fails-only` (a rule selects a finding when the check
    matches and its roles are empty or the finding's service has one of them; device-level
    findings only match rules without roles). Unconfirmed text or documents-only -> MANUAL; any D
    FAIL -> FAIL (INCONCLUSIVE for the password clauses in the factory state); any D INCONCLUSIVE
    -> INCONCLUSIVE; a network clause -> PASS when a `decides` finding PASSes, NOT_APPLICABLE
    when D is all NOT_APPLICABLE, INCONCLUSIVE when nothing decides it (no finding, or only
    `fails-only` ones); a partly-network clause -> MANUAL.
    """
    if clause.rules is None:
        raise ValueError(f"{clause.id}: the catalog has no evidence rules")
    if not clause.text_confirmed or clause.assessment == "documents-only":
        return "MANUAL"
    selected = [(rule, status) for check, key, status in findings for rule in clause.rules
                if rule.effect in ("decides", "fails-only") and rule.selects(check, key, roles)]
    statuses = {s for _r, s in selected}
    if "FAIL" in statuses:
        if device_state == "factory" and clause.id in FACTORY_STATE_CLAUSES:
            fails = {r.check for r, s in selected if s == "FAIL"}
            if fails == {"default_credentials"}:
                return "INCONCLUSIVE"
        return "FAIL"
    if "INCONCLUSIVE" in statuses:
        return "INCONCLUSIVE"
    if clause.assessment == "network":
        if any(r.effect == "decides" and s == "PASS" for r, s in selected):
            return "PASS"
        if statuses == {"NOT_APPLICABLE"}:
            return "NOT_APPLICABLE"
        return "INCONCLUSIVE"
    return "MANUAL"


def derive_verdicts(truth: Truth, scan: str, catalog: Mapping[str, Clause]) -> dict[str, str]:
    """Every in-scope clause's verdict from the truth's expected findings of one scan."""
    checks = set(profile(truth.profile)["checks"])
    findings = [(check, key, status) for (check, key), status in truth.expected(scan).items() if check in checks]
    roles = truth.visible_roles()
    return {cid: clause_verdict(c, findings, roles) for cid, c in in_scope(catalog, truth.profile).items()}


def catalog_has_rules(catalog: Mapping[str, Clause]) -> bool:
    """False while the catalog still maps clauses with `checks:` (before issue 11's rules)."""
    return all(c.rules is not None for c in catalog.values())


# ----------------------------------------------------------------- probe's evidence, observed


def service_key(finding_or_service: Mapping[str, Any]) -> str:
    port = finding_or_service.get("port")
    return DEVICE if port is None else f"{finding_or_service.get('transport') or 'tcp'}/{port}"


def worst(statuses: Iterable[str]) -> str:
    return min(statuses, key=FINDING_STATUSES.index)


def observed_findings(doc: Mapping[str, Any], checks: Iterable[str]) -> dict[tuple[str, str], str]:
    """(check, service key) -> the worst status probe wrote there (several findings may share a key)."""
    wanted = set(checks)
    grouped: dict[tuple[str, str], list[str]] = {}
    for f in doc["findings"]:
        if f["check_id"] in wanted:
            grouped.setdefault((f["check_id"], service_key(f)), []).append(f["status"])
    return {k: worst(v) for k, v in grouped.items()}


def observed_services(doc: Mapping[str, Any]) -> dict[str, str]:
    return {service_key(s): s["protocol"] for s in doc["services"]}


def observed_roles(doc: Mapping[str, Any]) -> dict[str, frozenset[str]] | None:
    """Service key -> role names, or None when the evidence carries no roles (schema before 2.0.0)."""
    if not doc["services"] or any("roles" not in s for s in doc["services"]):
        return None
    return {service_key(s): frozenset(r["role"] for r in s["roles"]) for s in doc["services"]}


def observed_verdicts(doc: Mapping[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in doc["clauses"]}


def differences(expected: Mapping[Any, Any], observed: Mapping[Any, Any], label: str,
                why: Mapping[Any, str] | None = None) -> list[str]:
    """One line per key where probe's value differs from the truth's, or is missing or extra."""
    out = []
    for key in sorted(set(expected) | set(observed), key=str):
        want, got = expected.get(key), observed.get(key)
        if want == got:
            continue
        name = " ".join(key) if isinstance(key, tuple) else str(key)
        if want is None:
            out.append(f"{label} {name}: probe wrote {got}, the truth expects nothing there")
        elif got is None:
            out.append(f"{label} {name}: probe wrote nothing, truth {want}" + (f" ({why[key]})" if why else ""))
        else:
            out.append(f"{label} {name}: probe {got}, truth {want}" + (f" ({why[key]})" if why else ""))
    return out


def reasons(truth: Truth, scan: str) -> dict[tuple[str, str], str]:
    return {(e.check, e.key): e.why for e in truth.findings if scan in e.scans}
