"""SARIF 2.1.0: rules are probe's checks, results are FAIL and INCONCLUSIVE findings.

Locations are logical (host:port/protocol): there is no source file on a device. Clause ids go
in each result's and rule's `properties`. `partialFingerprints` hash what identifies "the same
problem on the same service" across runs (check, host, port, transport, protocol), never run ids.

INCONCLUSIVE is reported with level "warning": SARIF would call it kind "open", but then only
level "none" is allowed and code-scanning consumers hide such results; a clause that could not be
tested must stay visible (`probe run` exits 4 for it). A clause that is INCONCLUSIVE because no
check evidencing it ran has no finding; it becomes a result of the rule `probe.clause-not-assessed`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from probe import __version__

from .model import clause_title, location, one_line, visible
from .path_view import recognition_view

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
UNASSESSED_RULE = "probe.clause-not-assessed"
_LEVEL_BY_SEVERITY = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(visible(p) for p in parts).encode("utf-8")).hexdigest()[:32]


def _check_meta(check_id: str) -> dict[str, str]:
    try:
        from probe.plugins import registry

        reg = registry()
        meta = reg.metadata(check_id) if check_id in reg else None
        if meta is not None:
            return {"title": meta.title, "description": " ".join(meta.description.split()),
                    "remediation": meta.remediation, "severity": meta.severity}
    except Exception:
        pass
    return {}


def _recognition(doc: dict[str, Any]) -> dict[str, Any]:
    """The chosen path's basis and the held label, as run properties (a path is not a result)."""
    rec = doc.get("recognition") or {}
    path = rec.get("chosen_path") or {}
    rv = recognition_view(doc)
    return {
        "holding": visible(rec.get("holding") or ""), "applyFor": visible(rec.get("apply_for") or ""),
        "status": rv["status"], "asOf": rv["as_of"], "asOfSource": rv["as_of_source"],
        "gapSet": [visible(g.get("id")) for g in path.get("gap_set") or []],
        "bases": [{"instrument": b["instrument"], "kind": b["kind"], "paragraph": b["paragraph"],
                   "annexes": b["annexes"], "condition": b["condition"], "inForce": b["in_force"],
                   "applies": b["applies"], "whyNot": b["why_not"]} for b in rv["bases"]],
        "heldLabel": rv["held"],
        "questions": rv["questions"], "manualItems": rv["manual_items"], "notes": rv["notes"],
    }


def _baseline_states(baseline: dict[str, Any] | None) -> dict[str, str]:
    """New finding id -> SARIF baselineState (new | updated) from probe diff's JSON; absent ids are unchanged."""
    out: dict[str, str] = {}
    for f in (baseline or {}).get("findings") or []:
        if f.get("after"):
            out[f["after"]["id"]] = "new" if f.get("change") == "appeared" else "updated"
    return out


def render(doc: dict[str, Any], *, lang: str = "en", verification: Any = None, source: Any = None,
           baseline: dict[str, Any] | None = None) -> str:
    import json

    states = _baseline_states(baseline)

    clauses_by_check: dict[str, set[str]] = {}
    for c in doc["clauses"]:
        for chk in c["checks"]:
            clauses_by_check.setdefault(chk, set()).add(c["id"])
    for f in doc["findings"]:
        clauses_by_check.setdefault(f["check_id"], set()).update(f["clauses"])
    titles = {f["check_id"]: f["title"] for f in doc["findings"]}
    rules, index = [], {}
    for chk in sorted(clauses_by_check):
        meta = _check_meta(chk)
        title = meta.get("title") or titles.get(chk) or chk
        rule: dict[str, Any] = {
            "id": visible(chk), "name": visible(chk),
            "shortDescription": {"text": visible(title)},
            "properties": {"clauses": sorted(clauses_by_check[chk])},
        }
        if meta.get("description"):
            rule["fullDescription"] = {"text": meta["description"]}
        if meta.get("remediation"):
            rule["help"] = {"text": meta["remediation"]}
        if meta.get("severity"):
            rule["properties"]["severity"] = meta["severity"]
        index[chk] = len(rules)
        rules.append(rule)
    index[UNASSESSED_RULE] = len(rules)
    rules.append({"id": UNASSESSED_RULE, "name": "ClauseNotAssessed",
                  "shortDescription": {"text": "A clause in scope that no check evidenced could not be tested"},
                  "properties": {"clauses": []}})
    arts = {a["id"]: a for a in doc["artefacts"]}
    results = []
    for f in doc["findings"]:
        if f["status"] not in ("FAIL", "INCONCLUSIVE"):
            continue
        level = (_LEVEL_BY_SEVERITY.get(str(f.get("severity", "medium")), "warning")
                 if f["status"] == "FAIL" else "warning")
        text = one_line(f["summary"])
        if f["status"] == "INCONCLUSIVE":
            code = one_line(f.get("reason_code") or "unknown")
            text = f"Could not be tested ({code}): {one_line(f.get('reason') or text)}"
        loc = location(f)
        extra = {"baselineState": states.get(f["id"], "unchanged")} if baseline else {}
        results.append({**extra,
            "ruleId": visible(f["check_id"]), "ruleIndex": index[f["check_id"]], "level": level,
            "kind": "fail",
            "message": {"text": text},
            "locations": [{"logicalLocations": [{"name": loc, "fullyQualifiedName": loc}]}],
            "partialFingerprints": {"probeFinding/v1": _fingerprint(f["check_id"], f["host"], f.get("port"),
                                                                   f.get("transport"), f.get("protocol"))},
            "properties": {
                "status": f["status"], "findingId": visible(f["id"]), "clauses": list(f["clauses"]),
                "reasonCode": f.get("reason_code"), "severity": visible(f.get("severity", "")),
                "evidence": [{"id": visible(a), "sha256": arts[a]["sha256"] if a in arts else None}
                             for a in f["evidence"]],
            },
        })
    for c in doc["clauses"]:
        if c["verdict"] == "INCONCLUSIVE" and not c["findings"]:
            results.append({
                "ruleId": UNASSESSED_RULE, "ruleIndex": index[UNASSESSED_RULE], "level": "warning", "kind": "fail",
                "message": {"text": f"{c['id']}: {one_line(c['reason'])}"},
                "locations": [{"logicalLocations": [{"name": visible(c["target"]),
                                                     "fullyQualifiedName": visible(c["target"])}]}],
                "partialFingerprints": {"probeClause/v1": _fingerprint(c["id"], c["target"])},
                "properties": {"status": "INCONCLUSIVE", "clauses": [c["id"]], "reasonCode": c.get("reason_code")},
            })
    run = doc["run"]
    sarif = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "probe", "version": visible(doc["tool"]["version"]),
                                "semanticVersion": visible(doc["tool"]["version"]), "rules": rules,
                                "properties": {"reportedBy": f"probe {__version__}"}}},
            "automationDetails": {"id": f"probe/{visible(run['id'])}"},
            "invocations": [{"executionSuccessful": bool(run["complete"]),
                             "properties": {"started": run["started"], "finished": run["finished"],
                                            "incompleteReasons": [visible(r) for r in run["incomplete_reasons"]]}}],
            "results": results,
            "properties": {"targets": [visible(t) for t in doc["targets"]], "summary": dict(doc["summary"]),
                           "deviceState": visible(run.get("device_state") or "initialised"),
                           "deviceStateSource": visible(run.get("device_state_source") or "default"),
                           "catalogOverlays": [{"path": visible(o.get("path")), "sha256": visible(o.get("sha256"))}
                                               for o in (doc.get("catalog") or {}).get("overlays") or []],
                           "clauses": {c["id"] + ("" if len(doc["targets"]) == 1 else f"@{c['target']}"): c["verdict"]
                                       for c in doc["clauses"]},
                           "recognition": _recognition(doc), "lang": lang,
                           # the catalog's clause titles, in the report's language (Japanese where the catalog has one)
                           "clauseTitles": {c["id"]: clause_title(c, lang) for c in doc["clauses"]},
                           **({"baseline": {"runId": visible(baseline["old"]["run_id"]),
                                            "exitCode": baseline["outcome"]["exit_code"],
                                            "worse": [visible(w) for w in baseline["outcome"]["worse"]]}}
                              if baseline else {})},
        }],
    }
    return json.dumps(sarif, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
