"""JUnit XML: one testsuite per scheme, one testcase per clause (per target).

PASS passes; FAIL is a <failure>; INCONCLUSIVE an <error> (it was not shown to pass, and CI must
not read it as green: `probe run` exits 4); MANUAL and NOT_APPLICABLE are <skipped>, MANUAL with the
message "needs manufacturer documents". Built with ElementTree (which escapes), after `visible()`
has removed code points XML 1.0 forbids.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from .model import clause_title, context, location, one_line, visible
from .path_view import recognition_view

MANUAL_MESSAGE = "needs manufacturer documents"


def _path_properties(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The chosen recognition path, its basis and the held label, as suite properties."""
    path = (doc.get("recognition") or {}).get("chosen_path")
    if not path:
        return []
    rv = recognition_view(doc)
    used = [b for b in rv["bases"] if b["applies"]]
    props = [("recognition_path", f"{path.get('holding')} -> {path.get('apply_for')} ({path.get('device_class')})"),
             ("recognition_status", f"{rv['status']} on {rv['as_of']}"),
             ("recognition_basis", "; ".join(f"{b['instrument']} {b['paragraph']} (in force {b['in_force']})"
                                             for b in used) or "-")]
    held = rv["held"]
    props.append(("held_label", f"{held['label']}, valid {held['validity']} (declared in {held['declared_in']})"
                  if held else "not declared"))
    return props


def render(doc: dict[str, Any], *, lang: str = "en", verification: Any = None, source: Any = None,
           baseline: dict[str, Any] | None = None) -> str:
    ctx = context(doc, lang, verification)
    findings = ctx["findings"]
    multi = len(doc["targets"]) > 1
    path_props = _path_properties(doc)
    if baseline:  # --baseline: whether the run got worse than the baseline run (probe diff's exit code)
        path_props += [("baseline_run_id", visible(baseline["old"]["run_id"])),
                       ("baseline_exit_code", str(baseline["outcome"]["exit_code"])),
                       ("baseline_worse", visible("; ".join(baseline["outcome"]["worse"]) or "none"))]
    root = ET.Element("testsuites", name="probe")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for s in ctx["schemes"]:
        n = {"tests": len(s.clauses), "failures": s.counts["FAIL"], "errors": s.counts["INCONCLUSIVE"],
             "skipped": s.counts["MANUAL"] + s.counts["NOT_APPLICABLE"]}
        suite = ET.SubElement(root, "testsuite", name=f"{s.name} ({s.id})", time="0",
                              timestamp=visible(doc["run"]["started"]), hostname=visible(", ".join(doc["targets"])),
                              **{k: str(v) for k, v in n.items()})
        props = ET.SubElement(suite, "properties")
        for k, v in (("run_id", doc["run"]["id"]), ("profile", doc["profile"]["name"]),
                     ("scheme_version", s.version), ("complete", str(doc["run"]["complete"]).lower()),
                     ("device_state", doc["run"].get("device_state") or "initialised"),
                     ("device_state_source", doc["run"].get("device_state_source") or "default"),
                     *path_props):
            ET.SubElement(props, "property", name=k, value=visible(v))
        for c in s.clauses:
            name = f"{c['id']} {clause_title(c, lang)}" + (f" [{c['target']}]" if multi else "")
            tc = ET.SubElement(suite, "testcase", name=one_line(name), classname=f"probe.{visible(s.id)}", time="0")
            detail = "\n".join(
                f"{findings[fid]['status']} {findings[fid]['check_id']} @ {location(findings[fid])}: "
                f"{visible(findings[fid]['summary'])}" + (f" ({visible(findings[fid]['reason'])})"
                                                        if findings[fid].get("reason") else "")
                for fid in c["findings"] if fid in findings)
            v = c["verdict"]
            if v == "FAIL":
                el = ET.SubElement(tc, "failure", message=one_line(c["reason"], 500), type="FAIL")
                el.text = detail
            elif v == "INCONCLUSIVE":
                codes = [c["reason_code"]] if c.get("reason_code") else sorted(
                    {str(findings[f].get("reason_code")) for f in c["findings"]
                     if f in findings and findings[f].get("reason_code")})
                el = ET.SubElement(tc, "error", message=one_line(c["reason"], 500),
                                   type="INCONCLUSIVE" + (f":{','.join(codes)}" if codes else ""))
                el.text = detail
            elif v == "MANUAL":
                message = MANUAL_MESSAGE if lang != "ja" else ctx["L"]["needs_documents"]
                el = ET.SubElement(tc, "skipped", message=message)
                el.text = one_line(c["reason"]) + ("\ndeclaration attached" if c.get("declaration") else "")
            elif v == "NOT_APPLICABLE":
                ET.SubElement(tc, "skipped", message=one_line(f"not applicable: {c['reason']}", 500))
            if detail and v == "PASS":
                ET.SubElement(tc, "system-out").text = detail
        for k in totals:
            totals[k] += n[k]
    for k, val in totals.items():
        root.set(k, str(val))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
