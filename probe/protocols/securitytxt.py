"""A parser and validator for security.txt (RFC 9116), kept apart from any network code.

The parser reports *observations* (fields, errors, warnings); the security_txt check judges.
An OpenPGP cleartext signature is recognised and its armour removed, but not verified: probe
holds no key for the manufacturer, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

KNOWN = ("acknowledgments", "canonical", "contact", "encryption", "expires", "hiring", "policy",
         "preferred-languages", "csaf")
MAX_LINES = 2000


@dataclass
class SecurityTxt:
    fields: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signed: bool = False
    expires: datetime | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"fields": self.fields, "errors": self.errors, "warnings": self.warnings, "pgp_signed": self.signed,
                "signature_verified": False if self.signed else None,
                "expires": self.expires.isoformat() if self.expires else None}


def _unsign(lines: list[str], out: SecurityTxt) -> list[str]:
    if not lines or lines[0].strip() != "-----BEGIN PGP SIGNED MESSAGE-----":
        return lines
    out.signed = True
    out.warnings.append("OpenPGP-signed: the signature was not verified (no manufacturer key available to probe)")
    body: list[str] = []
    i = 1
    while i < len(lines) and lines[i].strip():  # armour headers (Hash: ...) up to the blank line
        i += 1
    for line in lines[i + 1:]:
        if line.strip() == "-----BEGIN PGP SIGNATURE-----":
            break
        body.append(line[2:] if line.startswith("- ") else line)  # dash-escaping, RFC 4880 §7.1
    else:
        out.errors.append("OpenPGP signed message has no signature block")
    return body


def parse_expires(value: str) -> datetime | None:
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return None
    if dt.tzinfo is None or "T" not in value.upper():
        return None  # RFC 9116 §2.5.5: an RFC 3339 date-time, with an offset
    return dt


def parse(text: str, *, now: datetime | None = None, fetched_from: str | None = None) -> SecurityTxt:
    now = now or datetime.now(UTC)
    out = SecurityTxt()
    lines = text.replace("\r\n", "\n").split("\n")[:MAX_LINES]
    for n, line in enumerate(_unsign(lines, out), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if ":" not in s:
            out.errors.append(f"line {n}: not a 'Field: value' line")
            continue
        name, value = s.split(":", 1)
        name = name.strip().lower()
        value = value.strip()
        if not value:
            out.errors.append(f"line {n}: {name} has no value")
            continue
        out.fields.setdefault(name, []).append(value[:500])
    contacts = out.fields.get("contact", [])
    if not contacts:
        out.errors.append("no Contact field (required, RFC 9116 §2.5.3)")
    for c in contacts:
        if not c.lower().startswith(("mailto:", "https://", "tel:", "http://")):
            out.errors.append(f"Contact {c!r} is not a URI (mailto:, https:, tel:)")
        elif c.lower().startswith("http://"):
            out.errors.append(f"Contact {c!r}: web URIs must use https (RFC 9116 §2.5.3)")
    exp = out.fields.get("expires", [])
    if not exp:
        out.errors.append("no Expires field (required, RFC 9116 §2.5.5)")
    elif len(exp) > 1:
        out.errors.append("Expires appears more than once (it must appear once)")
    else:
        out.expires = parse_expires(exp[0])
        if out.expires is None:
            out.errors.append(f"Expires {exp[0]!r} is not an RFC 3339 date-time")
        elif out.expires <= now:
            out.errors.append(f"expired on {out.expires.isoformat()}")
        elif out.expires > now + timedelta(days=366):
            out.warnings.append("Expires is more than a year ahead (RFC 9116 recommends less)")
    if len(out.fields.get("preferred-languages", [])) > 1:
        out.errors.append("Preferred-Languages appears more than once")
    for u in out.fields.get("policy", []) + out.fields.get("acknowledgments", []) + out.fields.get("canonical", []):
        if u.lower().startswith("http://"):
            out.warnings.append(f"{u!r}: web URIs in security.txt must use https")
    canon = out.fields.get("canonical", [])
    if canon and fetched_from and fetched_from not in canon:
        out.warnings.append(f"fetched from {fetched_from}, which is not among its Canonical URIs")
    unknown = sorted(k for k in out.fields if k not in KNOWN)
    if unknown:
        out.warnings.append(f"fields not defined by RFC 9116 (ignored): {', '.join(unknown)}")
    return out
