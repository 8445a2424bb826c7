"""The manufacturer declaration: what the manufacturer states for clauses a scan cannot judge.

A declaration is evidence *about* documents, never a test result: it is attached to the clauses
it speaks to (the field -> clause map is data, `probe/data/declaration_map.yaml`), those clauses
stay MANUAL with basis `declared`, and the declaration file itself is kept verbatim (with its
sha256) as an artefact of the run.

A malformed file is a one-line error naming the file and the line: YAML syntax errors carry a
mark; schema errors are mapped back to a line through the composed YAML node tree. Dates are kept
as strings while loading (the timestamp resolver is removed) so that a bad date is a schema error
with a line, not a crash inside the YAML constructor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from probe import yamlfile
from probe.compliance.catalog import Catalog
from probe.errors import UserError

MAX_DECLARATION_BYTES = 1024 * 1024
URL_FIELDS = ("vulnerability_disclosure_policy_url", "support_period_url")


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type: dates stay strings and are checked by the schema."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Declaration:
    path: str
    raw: bytes
    data: dict[str, Any]
    lines: dict[str, int]  # top-level field (and "clauses.<id>") -> line number

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def load_schema() -> dict[str, Any]:
    return json.loads((importlib.resources.files("probe") / "schema" / "declaration.schema.json").read_text("utf-8"))


def load_map(catalog: Catalog | None = None) -> dict[str, list[str]]:
    """declaration field -> clause ids, checked against the catalogs."""
    text = (importlib.resources.files("probe") / "data" / "declaration_map.yaml").read_text("utf-8")
    fields = yamlfile.safe_load(text)["fields"]
    if catalog is not None:
        for name, clauses in fields.items():
            for cid in clauses:
                if cid not in catalog.by_id:
                    raise UserError(f"probe/data/declaration_map.yaml: {name}: unknown clause {cid!r}")
    return {k: list(v or []) for k, v in fields.items()}


def _node_at(node: yaml.Node, path: list[Any]) -> tuple[yaml.Node, yaml.Node | None]:
    """(value node, key node) at a JSON path in the composed YAML tree, as deep as it goes."""
    key_node: yaml.Node | None = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            nxt = next(((k, v) for k, v in node.value if k.value == part), None)
            if nxt is None:
                break
            key_node, node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node, key_node


def _key_problem(node: yaml.Node) -> tuple[int, str] | None:
    """(line, problem) for the first mapping key that is a list/mapping or appears twice."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):  # `? [a, b]`: fields are named by plain text only
                return k.start_mark.line + 1, "a field name must be plain text, not a list or mapping"
            if k.value in seen:
                return k.start_mark.line + 1, f"field {k.value!r} appears twice"
            seen.add(k.value)
            dup = _key_problem(v)
            if dup:
                return dup
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            dup = _key_problem(v)
            if dup:
                return dup
    return None


def _unconstructible_line(root: yaml.Node) -> int:
    """Line of the first scalar the constructor cannot build (the constructor's errors carry none)."""
    trial = _Loader("")
    seen: set[int] = set()
    queue: list[yaml.Node] = [root]
    while queue:
        node = queue.pop(0)
        if id(node) in seen:  # anchors can make the tree a graph, even a cycle
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            try:
                trial.construct_object(node)
            except (ValueError, TypeError, OverflowError, yaml.YAMLError):
                return node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode):
            queue.extend(x for pair in node.value for x in pair)
        elif isinstance(node, yaml.SequenceNode):
            queue.extend(node.value)
    return root.start_mark.line + 1


def _message(err: Any) -> str:
    where = ".".join(str(p) for p in err.absolute_path)
    v = err.validator
    if v == "required":
        return f"{where + ': ' if where else ''}{err.message}"
    if v == "additionalProperties":
        return f"{where + ': ' if where else ''}unknown field ({err.message}); see `probe declaration --template`"
    if v == "format" and err.validator_value == "date":
        return f"{where}: {err.instance!r} is not a date (YYYY-MM-DD)"
    if v == "pattern" and where.endswith("_url") or (v == "$ref"):
        return f"{where}: {err.instance!r} is not an http(s) URL"
    if v == "type":
        return f"{where}: {err.instance!r} should be a {err.validator_value}"
    return f"{where}: {err.message}"


def _error_line(root: yaml.Node, err: Any) -> int:
    path = list(err.absolute_path)
    node, key = _node_at(root, path)
    if err.validator == "additionalProperties" and isinstance(node, yaml.MappingNode):
        allowed = set(err.schema.get("properties", {}))
        for k, _v in node.value:
            if k.value not in allowed:
                return k.start_mark.line + 1
    if err.validator == "propertyNames" and isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if k.value == err.instance:
                return k.start_mark.line + 1
    if err.validator == "required" and path and isinstance(path[-1], int):
        return node.start_mark.line + 1  # the list item that lacks the field
    if err.validator == "required" and key is not None:
        return key.start_mark.line + 1  # the entry that lacks the field, not its first child
    target = node if node is not None else key
    return (target.start_mark.line + 1) if target is not None else 1


def parse(text: str, where: str, catalog: Catalog | None = None) -> tuple[dict[str, Any], dict[str, int]]:
    """Validated declaration data and its line index; UserError '<where>:<line>: problem' otherwise."""
    import jsonschema

    try:
        loader = _Loader(text)  # the reader refuses control characters here, before any parsing
    except yaml.reader.ReaderError as exc:
        line = text[:max(0, exc.position)].count("\n") + 1
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise UserError(f"{where}:{line}: not valid YAML (character {what} is not allowed)") from None
    try:
        root = loader.get_single_node()
        if root is None:
            raise UserError(f"{where}:1: empty declaration (see `probe declaration --template`)")
        dup = _key_problem(root)
        if dup:
            raise UserError(f"{where}:{dup[0]}: {dup[1]}")
        try:
            data = loader.construct_document(root)
        except (ValueError, TypeError, OverflowError) as exc:  # an explicit tag on a bad value: `!!int x`
            raise UserError(f"{where}:{_unconstructible_line(root)}: not valid YAML (a value does not fit its "
                            f"tag: {str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        ctx_mark = getattr(exc, "context_mark", None)
        started = f", in what starts at line {ctx_mark.line + 1}" if ctx_mark and ctx_mark.line + 1 != line else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]  # str() spans lines
        raise UserError(f"{where}:{line}: not valid YAML ({problem}{started})") from None
    except RecursionError:  # nesting deep enough to exhaust the composer or constructor
        raise UserError(f"{where}:1: not valid YAML (nested too deeply)") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise UserError(f"{where}:{root.start_mark.line + 1}: a declaration must be a mapping of fields")
    cls = jsonschema.Draft202012Validator
    validator = cls(load_schema(), format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(data), key=lambda e: _error_line(root, e))
    if errors:
        e = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UserError(f"{where}:{_error_line(root, e)}: {_message(e)}{more}")
    lines: dict[str, int] = {}
    assert isinstance(root, yaml.MappingNode)
    for k, v in root.value:
        lines[k.value] = k.start_mark.line + 1
        if k.value in ("clauses", "held_label", "update") and isinstance(v, yaml.MappingNode):
            for ck, _cv in v.value:
                lines[f"{k.value}.{ck.value}"] = ck.start_mark.line + 1
        if k.value == "interfaces" and isinstance(v, yaml.SequenceNode):
            for i, item in enumerate(v.value):
                lines[f"interfaces.{i}"] = item.start_mark.line + 1
    _check_held_label(data.get("held_label"), lines, where)
    _check_interfaces(data.get("interfaces"), lines, where)
    if catalog is not None:
        for cid in (data.get("clauses") or {}):
            if cid not in catalog.by_id:
                raise UserError(f"{where}:{lines[f'clauses.{cid}']}: unknown clause {cid!r} (see `probe plan`)")
    return data, lines


def _check_held_label(held: dict[str, Any] | None, lines: dict[str, int], where: str) -> None:
    """What the schema cannot say about a held label: its dates in order, and not recognised from itself."""
    if not held:
        return
    if held.get("valid_from") and held.get("valid_until") and \
            dt.date.fromisoformat(held["valid_from"]) > dt.date.fromisoformat(held["valid_until"]):
        raise UserError(f"{where}:{lines.get('held_label.valid_from', lines['held_label'])}: held_label.valid_from "
                        f"{held['valid_from']} is after valid_until {held['valid_until']}")
    if held.get("obtained_via") == held["scheme"]:
        raise UserError(f"{where}:{lines.get('held_label.obtained_via', lines['held_label'])}: held_label.obtained_via "
                        f"cannot be the label's own scheme ({held['scheme']}): use own-assessment")


def _check_interfaces(interfaces: list[dict[str, Any]] | None, lines: dict[str, int], where: str) -> None:
    """One entry per port and transport: a port declared twice would make the comparison ambiguous."""
    seen: dict[tuple[int, str], int] = {}
    for i, entry in enumerate(interfaces or []):
        key = (entry["port"], entry.get("transport", "tcp"))
        line = lines.get(f"interfaces.{i}", lines.get("interfaces", 1))
        if key in seen:
            raise UserError(f"{where}:{line}: interface {key[1]}/{key[0]} is declared twice "
                            f"(first at line {seen[key]})")
        seen[key] = line


@dataclass(frozen=True)
class DeclaredInterface:
    """One interface the manufacturer declares (ICS/IXIT style), with the line it is declared on."""

    protocol: str
    port: int
    transport: str
    purpose: str
    enabled_by_default: bool
    authentication: str | None  # unique-per-device | user-set-at-first-use | none | None (not declared)
    line: int | None

    def key(self) -> str:
        return f"{self.transport}/{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "port": self.port, "transport": self.transport, "purpose": self.purpose,
                "enabled_by_default": self.enabled_by_default, "authentication": self.authentication,
                "line": self.line}


@dataclass(frozen=True)
class DeclaredUpdate:
    """How the manufacturer says the product checks for and fetches updates."""

    method: str
    protocol: str | None
    check_url: str | None
    download_url: str | None
    local_update_page: bool | None
    lines: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "protocol": self.protocol, "check_url": self.check_url,
                "download_url": self.download_url, "local_update_page": self.local_update_page,
                "lines": dict(self.lines)}


@dataclass(frozen=True)
class Declared:
    """What the declaration says that a run can compare with the device (the `compares` checks)."""

    file: str
    sha256: str
    artefact: str | None  # the declaration file's artefact id in this run's evidence
    interfaces: tuple[DeclaredInterface, ...] | None  # None: the declaration lists no interfaces
    update: DeclaredUpdate | None

    def has(self, section: str) -> bool:
        return {"interfaces": self.interfaces is not None, "update": self.update is not None}.get(section, False)


def declared_facts(decl: Declaration, artefact: str | None) -> Declared:
    ifaces = decl.data.get("interfaces")
    interfaces = None if ifaces is None else tuple(
        DeclaredInterface(str(e["protocol"]), int(e["port"]), str(e.get("transport", "tcp")), str(e["purpose"]),
                          bool(e["enabled_by_default"]), e.get("authentication"), decl.lines.get(f"interfaces.{i}"))
        for i, e in enumerate(ifaces))
    upd = decl.data.get("update")
    update = None if upd is None else DeclaredUpdate(
        str(upd["method"]), upd.get("protocol"), upd.get("check_url"), upd.get("download_url"),
        upd.get("local_update_page"),
        {k.split(".", 1)[1]: v for k, v in decl.lines.items() if k.startswith("update.")})
    return Declared(decl.path, decl.sha256, artefact, interfaces, update)


def load_declaration(path: Path, catalog: Catalog | None = None) -> Declaration:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"--declaration {path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_DECLARATION_BYTES:
        raise UserError(f"--declaration {path}: larger than {MAX_DECLARATION_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text") from None
    if catalog is None:
        from probe.compliance.catalog import load_catalog
        catalog = load_catalog()
    data, lines = parse(text, str(path), catalog)
    return Declaration(str(path), raw, data, lines)


def clause_statements(decl: Declaration, fmap: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """clause id -> the declared statements that speak to it (field, value, line)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, value in decl.data.items():
        for cid in fmap.get(name, []):
            out.setdefault(cid, []).append({"field": name, "value": value, "line": decl.lines.get(name)})
    for cid, entry in (decl.data.get("clauses") or {}).items():
        out.setdefault(cid, []).append({"field": "clauses", "value": entry.get("statement"),
                                        "document": entry.get("document"), "url": entry.get("url"),
                                        "line": decl.lines.get(f"clauses.{cid}")})
    return out


def declared_urls(decl: Declaration) -> list[str]:
    """The URLs the declaration names (policy, support period, per-clause), each once, in order."""
    urls = [decl.data[f] for f in URL_FIELDS if f in decl.data]
    urls += [e["url"] for e in (decl.data.get("clauses") or {}).values() if e.get("url")]
    return list(dict.fromkeys(urls))


def record(decl: Declaration, add_artefact: Callable[..., str]) -> str:
    """Keep the declaration file verbatim as an artefact of the run; its id."""
    return add_artefact("declaration", Path(decl.path).name, decl.raw, media_type="application/yaml")


def attach(decl: Declaration, add_artefact: Callable[..., str], catalog: Catalog, *,
           fetch: Callable[[list[str]], dict[str, dict[str, Any]]] | None = None,
           artefact: str | None = None) -> dict[str, dict[str, Any]]:
    """Record the declaration as an artefact and build ScanState.declarations (clause id -> declaration).

    `add_artefact(kind, name, data, media_type=...)` stores raw evidence and returns its id (unless
    `artefact`, the id `record` returned, says the file is already kept);
    `fetch`, given only when the operator opted in, fetches the declared URLs (this module has no
    network code: probe.services.declared_urls does that) and returns url -> fetch result.
    """
    art = artefact or record(decl, add_artefact)
    fetched = fetch(declared_urls(decl)) if fetch else {}
    out: dict[str, dict[str, Any]] = {}
    for cid, statements in clause_statements(decl, load_map(catalog)).items():
        urls = {s["value"] for s in statements if isinstance(s["value"], str) and s["value"] in fetched}
        urls |= {s["url"] for s in statements if s.get("url") in fetched}
        out[cid] = {
            "file": decl.path,
            "sha256": decl.sha256,
            "artefact": art,
            "manufacturer": decl.data.get("manufacturer"),
            "model": decl.data.get("model"),
            "statements": statements,
            "fetched_urls": [fetched[u] for u in sorted(urls)],
        }
    return out


TEMPLATE = """\
# probe manufacturer declaration (check it with: probe declaration --check FILE)
#
# What the manufacturer states for the clauses a network scan cannot judge. probe attaches each
# statement to the clauses it speaks to (probe/data/declaration_map.yaml); those clauses stay
# MANUAL, with basis "declared", and cite this file (kept verbatim with its sha256). A
# declaration never makes a clause PASS. Replace every example value; delete what does not apply.
declaration_version: 1

manufacturer: Example Networks Ltd        # legal name of the manufacturer
product: Example Home Gateway             # product name as marketed
model: EX-GW1000                          # model designation -> cls:5.3-16, jc-star:S1.1-10
firmware_version: "1.0.0"                 # firmware the statements apply to (quote it)

# Vulnerability disclosure -> cls:5.2-1, uk-psti:2, jc-star:S1.1-05
vulnerability_disclosure_policy_url: https://example.com/security/disclosure-policy
security_contact: mailto:security@example.com   # mailto:, https:// or tel:

# Support period -> cls:5.3-13, uk-psti:3, jc-star:S1.1-16
support_period_end: 2030-12-31            # YYYY-MM-DD: last day security updates are provided
support_period_url: https://example.com/support/periods

# Updates
update_mechanism: >-                      # -> cls:5.3-1, 5.3-2, 5.3-3, 7.3-1, jc-star:S1.1-06, S1.1-07
  The gateway checks for updates daily over HTTPS and installs them at night; users can also
  upload an image on the System > Firmware page. The user manual, section 7, explains both.
automatic_updates_default: true           # automatic updates on in the initial state -> cls:5.3-6, 7.3-4, 7.3-6
update_signing: >-                        # -> cls:5.3-7, 5.3-9, 5.3-10, 7.3-7, jc-star:S1.1-09
  Images are signed (ECDSA P-256, SHA-256); the bootloader verifies the signature before
  installing and refuses unsigned or downgraded images.

# Data deletion -> jc-star:S1.1-15
data_deletion: A factory reset (System > Reset) erases all user data and credentials.

# Interfaces (as in an ETSI TS 103 701 ICS/IXIT): EVERY network service the product exposes.
# `probe run --declaration` compares this list with what it finds (docs/declared-observed.md):
# an open service missing here is a finding for the unused-interfaces clause (jc-star:S1.1-13);
# a declared interface that is not found is reported. Statement -> jc-star:S1.1-13.
#   protocol            as probe names it: ssh, telnet, http, https, ftp, mqtt, mqtts, snmp, upnp,
#                       ssdp, dns, rtsp, cwmp, ... (`probe run` prints the protocols it identified)
#   port, transport     transport is tcp unless you say udp
#   purpose             what the interface is for
#   enabled_by_default  open in the product's default configuration (true/false)
#   authentication      unique-per-device | user-set-at-first-use | none: compared with what the
#                       default-credential, cleartext and open-access checks found on that port
interfaces:
  - {protocol: https, port: 443, purpose: web administration, enabled_by_default: true,
     authentication: unique-per-device}
  - {protocol: http, port: 80, purpose: redirect to the HTTPS administration, enabled_by_default: true,
     authentication: none}
  - {protocol: dns, port: 53, transport: udp, purpose: DNS for the home network, enabled_by_default: true,
     authentication: none}
  - {protocol: ssh, port: 22, purpose: support access, enabled_by_default: false,
     authentication: user-set-at-first-use}

# How the product checks for and fetches updates, compared with the update URLs and pages the
# device shows. Statement -> the same clauses as update_mechanism.
update:
  method: automatic-and-user-initiated   # automatic | user-initiated | automatic-and-user-initiated | none
  protocol: https                        # what update checks and images travel over
  check_url: https://updates.example.com/ex-gw1000/latest.json
  download_url: https://updates.example.com/ex-gw1000/images/
  local_update_page: true                # the web interface has an update page

# The label the product already holds, the basis of a simplified application (--holding SCHEME).
# Shown in the plan, the evidence and the reports as declared (probe does not verify it); a path
# judged after valid_until is refused. Delete this block when the product holds no label.
held_label:
  scheme: jc-star                         # jc-star | cls | uk-psti; must equal --holding
  identifier: EXAMPLE-0001                # the label / registration number as issued
  level: 1                                # JC-STAR star level or CLS level (not used for uk-psti)
  issued_by: IPA
  valid_from: 2025-04-01
  valid_until: 2027-03-31                 # YYYY-MM-DD: last day the label is valid
  # Was this label itself obtained through a mutual-recognition arrangement? (Japan-Singapore MoC
  # para 3.4, Japan-UK MoC para 3.3: such labels are not recognised again, no chains.)
  obtained_via: own-assessment            # own-assessment, or the scheme (jc-star|cls|uk-psti) recognised
  public_url: https://example.com/security/label   # uk-psti: the statement of compliance, public online

# Statements for any other clause: clause id -> statement (+ optional document reference, URL)
clauses:
  jc-star:S1.1-11:
    statement: Credentials and keys are stored in an encrypted partition bound to the SoC.
    document: Security design description v1.2, section 3
  cls:5.3-8:
    statement: Critical vulnerabilities are fixed within 30 days of confirmation.
    document: Product security policy, section 5
    url: https://example.com/security/policy
"""
