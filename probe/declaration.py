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

import hashlib
import http.client
import importlib.resources
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .catalog import Catalog
from .context import EvidenceStore
from .errors import UserError

MAX_DECLARATION_BYTES = 1024 * 1024
MAX_FETCH_BYTES = 2 * 1024 * 1024
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
    fields = yaml.safe_load(text)["fields"]
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


def _duplicate_keys(node: yaml.Node) -> tuple[int, str] | None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                return k.start_mark.line + 1, k.value
            seen.add(k.value)
            dup = _duplicate_keys(v)
            if dup:
                return dup
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            dup = _duplicate_keys(v)
            if dup:
                return dup
    return None


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
    if err.validator == "required" and key is not None:
        return key.start_mark.line + 1  # the entry that lacks the field, not its first child
    target = node if node is not None else key
    return (target.start_mark.line + 1) if target is not None else 1


def parse(text: str, where: str, catalog: Catalog | None = None) -> tuple[dict[str, Any], dict[str, int]]:
    """Validated declaration data and its line index; UserError '<where>:<line>: problem' otherwise."""
    import jsonschema

    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise UserError(f"{where}:1: empty declaration (see `probe declaration --template`)")
        dup = _duplicate_keys(root)
        if dup:
            raise UserError(f"{where}:{dup[0]}: field {dup[1]!r} appears twice")
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        ctx_mark = getattr(exc, "context_mark", None)
        started = f", in what starts at line {ctx_mark.line + 1}" if ctx_mark and ctx_mark.line + 1 != line else ""
        raise UserError(f"{where}:{line}: not valid YAML ({getattr(exc, 'problem', None) or exc}{started})") from None
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
        if k.value == "clauses" and isinstance(v, yaml.MappingNode):
            for ck, _cv in v.value:
                lines[f"clauses.{ck.value}"] = ck.start_mark.line + 1
    if catalog is not None:
        for cid in (data.get("clauses") or {}):
            if cid not in catalog.by_id:
                raise UserError(f"{where}:{lines[f'clauses.{cid}']}: unknown clause {cid!r} (see `probe plan`)")
    return data, lines


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
        from .catalog import load_catalog
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


def fetch_url(url: str, timeout: float) -> tuple[dict[str, Any], bytes]:
    """GET one declared URL (operator opt-in): status, final headers, body sha256. No redirects followed."""
    parts = urlsplit(url)
    result: dict[str, Any] = {"url": url, "status": None, "sha256": None, "size": None, "location": None,
                              "error": None}
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    try:
        conn: http.client.HTTPConnection
        if tls:
            conn = http.client.HTTPSConnection(host, parts.port or 443, timeout=timeout,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, parts.port or 80, timeout=timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", path, headers={"User-Agent": "probe (declared URL check)"})
            resp = conn.getresponse()
            body = resp.read(MAX_FETCH_BYTES)
            result.update(status=resp.status, sha256=hashlib.sha256(body).hexdigest(), size=len(body),
                          location=resp.getheader("Location"), content_type=resp.getheader("Content-Type"))
            return result, body
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        result["error"] = f"{exc.__class__.__name__}: {exc}"
        return result, b""


def attach(decl: Declaration, store: EvidenceStore, catalog: Catalog, *, fetch_urls: bool = False,
           timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """Record the declaration as an artefact and build ScanState.declarations (clause id -> declaration)."""
    art = store.add_artefact("declaration", Path(decl.path).name, decl.raw, media_type="application/yaml")
    fetched: dict[str, dict[str, Any]] = {}
    if fetch_urls:
        urls = [decl.data[f] for f in URL_FIELDS if f in decl.data]
        urls += [e["url"] for e in (decl.data.get("clauses") or {}).values() if e.get("url")]
        for url in dict.fromkeys(urls):
            res, body = fetch_url(url, timeout)
            if body or res["status"] is not None:
                res["artefact"] = store.add_artefact("declared-url", f"GET {url}", body,
                                                     media_type=res.get("content_type") or "application/octet-stream")
            fetched[url] = res
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
