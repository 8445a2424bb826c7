"""Crypto policy as data, and the judgement that applies it to observations.

The protocol probes (probe/protocols/) only observe; this module turns observations into a list
of violations by reading `probe/data/policies/{tls,ssh}.yaml` (or an operator's file of the same
shape). Nothing here talks to a device. Each violation says which rule, which item, and whether
it fails the check or is only a warning, so a finding can list exactly why it failed.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from probe.errors import UserError
from probe.protocols.tls_hello import TLSScan, suite_name
from probe.protocols.x509 import CertInfo, ChainCheck

FAIL, WARN = "fail", "warn"
TLS_VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@dataclass(frozen=True)
class Violation:
    rule: str
    item: str
    severity: str  # fail | warn
    message: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "item": self.item, "severity": self.severity, "message": self.message}


def _load(name: str, path: str | Path | None) -> dict[str, Any]:
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise UserError(f"{path}: cannot read policy file ({exc.strerror})") from None
        where = str(path)
    else:
        text = (importlib.resources.files("probe") / "data" / "policies" / f"{name}.yaml").read_text("utf-8")
        where = f"probe/data/policies/{name}.yaml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise UserError(f"{where}: a policy must be a mapping")
    for key in ("name", "source", "source_version"):
        if key not in data:
            raise UserError(f"{where}: policy lacks {key!r} (every policy names its source and version)")
    data["_where"] = where
    return data


def load_tls_policy(path: str | Path | None = None) -> dict[str, Any]:
    pol = _load("tls", path)
    where = pol["_where"]
    try:
        allowed = list(pol["protocols"]["allowed"])
        suites = {v: list(s) for v, s in pol["cipher_suites"].items()}
        cert = pol["certificate"]
        on = cert["verdicts"]
    except (KeyError, TypeError) as exc:
        raise UserError(f"{where}: missing or malformed section ({exc})") from None
    bad = [v for v in allowed + list(suites) if v not in TLS_VERSIONS]
    if bad:
        raise UserError(f"{where}: unknown TLS version(s) {bad}; use {', '.join(TLS_VERSIONS)}")
    for k, v in on.items():
        if v not in (FAIL, WARN):
            raise UserError(f"{where}: certificate.verdicts.{k} must be fail or warn")
    return pol


def load_ssh_policy(path: str | Path | None = None) -> dict[str, Any]:
    pol = _load("ssh", path)
    for section in ("kex", "host_key_algorithms", "ciphers", "macs"):
        sec = pol.get(section)
        if not isinstance(sec, dict) or not all(isinstance(sec.get(k, []), list) for k in (FAIL, WARN)):
            raise UserError(f"{pol['_where']}: section {section!r} must have fail/warn pattern lists")
    return pol


# -- TLS ------------------------------------------------------------------------------------------
@dataclass
class TLSJudgement:
    violations: list[Violation]
    undetermined: list[str]  # what could not be observed and matters to the policy

    @property
    def failed(self) -> bool:
        return any(v.severity == FAIL for v in self.violations)


def judge_tls_configuration(scan: TLSScan, policy: dict[str, Any]) -> TLSJudgement:
    allowed = set(policy["protocols"]["allowed"])
    allowed_suites: dict[str, set[str]] = {v: set(s) for v, s in policy["cipher_suites"].items()}
    out: list[Violation] = []
    undetermined: list[str] = []
    for name, vr in scan.versions.items():
        if vr.accepted and name not in allowed:
            out.append(Violation("protocols.allowed", name, FAIL,
                                 f"{name} is accepted; the policy allows only {', '.join(sorted(allowed))}"))
        elif vr.accepted is None and name not in allowed:
            undetermined.append(f"whether {name} is accepted ({vr.reason or 'no answer'})")
        if vr.accepted and name in allowed:
            permitted = allowed_suites.get(name)
            if permitted is None:
                continue  # the policy does not restrict suites for this version
            for code in vr.suites:
                n = suite_name(code)
                if n not in permitted:
                    out.append(Violation(f"cipher_suites.{name}", n, FAIL,
                                         f"{name} accepts {n} (0x{code:04X}), not in the policy's list"))
            if not vr.suites_complete:
                undetermined.append(f"the full {name} suite list ({vr.suites_note or 'enumeration incomplete'})")
    return TLSJudgement(out, undetermined)


# -- certificates ---------------------------------------------------------------------------------
@dataclass
class CertJudgement:
    violations: list[Violation]
    notes: list[str]

    @property
    def failed(self) -> bool:
        return any(v.severity == FAIL for v in self.violations)


def judge_certificates(chain: list[CertInfo], policy: dict[str, Any], *, target_ip: str, now: dt.datetime,
                       trust: ChainCheck | None, leaf_only: bool = False) -> CertJudgement:
    """Judge the served chain: every certificate's key, hash and dates; the leaf's trust and name.

    A self-signed root in the chain is not judged on its own signature hash (clients never check
    a trust anchor's self-signature), but a self-signed *leaf* is.
    """
    cpol = policy["certificate"]
    on = cpol["verdicts"]
    out: list[Violation] = []
    notes: list[str] = []
    if leaf_only:
        notes.append("only the leaf certificate could be read (TLS 1.3-only server, Python < 3.13)")
    for i, c in enumerate(chain):
        label = "leaf" if i == 0 else f"chain[{i}]"
        who = f"{label} ({c.subject or 'unreadable'})"
        if c.parse_error:
            out.append(Violation("certificate.parse", label, FAIL, f"{label}: {c.parse_error}"))
            continue
        if c.key_type not in cpol["key_types"]:
            out.append(Violation("certificate.key_types", label, on["weak_key"],
                                 f"{who}: key type {c.key_type} is not allowed"))
        elif c.key_type == "RSA" and c.key_size < cpol["min_rsa_bits"]:
            out.append(Violation("certificate.min_rsa_bits", label, on["weak_key"],
                                 f"{who}: RSA key of {c.key_size} bits (< {cpol['min_rsa_bits']})"))
        elif c.key_type == "EC" and c.key_size < cpol["min_ec_bits"]:
            out.append(Violation("certificate.min_ec_bits", label, on["weak_key"],
                                 f"{who}: EC key of {c.key_size} bits (< {cpol['min_ec_bits']})"))
        trust_anchor = i > 0 and c.self_signed
        h = c.signature_hash.lower()
        if not trust_anchor and (h in cpol["disallowed_signature_hashes"] or h.startswith("unsupported:")):
            out.append(Violation("certificate.disallowed_signature_hashes", label, on["weak_signature"],
                                 f"{who}: signed with {c.signature_algorithm}"))
        if c.expired(now):
            out.append(Violation("certificate.expired", label, on["expired"],
                                 f"{who}: expired on {c.not_after:%Y-%m-%d}"))
        if c.not_yet_valid(now):
            out.append(Violation("certificate.not_yet_valid", label, on["not_yet_valid"],
                                 f"{who}: not valid before {c.not_before:%Y-%m-%d}"))
        if i == 0 and c.lifetime_days is not None and c.lifetime_days > cpol["max_lifetime_days"]:
            out.append(Violation("certificate.max_lifetime_days", label, on["lifetime"],
                                 f"{who}: valid for {c.lifetime_days} days (> {cpol['max_lifetime_days']})"))
    if chain and not chain[0].parse_error:
        leaf = chain[0]
        if trust is not None and trust.trusted is not None:
            if not trust.trusted:
                out.append(Violation("certificate.untrusted_with_ca_file", "leaf", on["untrusted_with_ca_file"],
                                     f"chain not trusted by the operator's CA file: {trust.detail}"))
            else:
                notes.append(trust.detail)
        else:
            if leaf.self_signed:
                out.append(Violation("certificate.self_signed_without_ca_file", "leaf",
                                     on["self_signed_without_ca_file"],
                                     "self-signed certificate; no CA file given, so trust was not assessed"))
            else:
                notes.append("no CA file given: chain trust not assessed")
        if not leaf.matches_ip(target_ip):
            names = ", ".join(leaf.ip_addresses + leaf.dns_names) or "none"
            out.append(Violation("certificate.name_mismatch", "leaf", on["name_mismatch"],
                                 f"{target_ip} is not among the certificate's subject alternative names ({names})"))
    return CertJudgement(out, notes)


# -- SSH ------------------------------------------------------------------------------------------
def _match(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def judge_ssh(*, protocol: str, lists: dict[str, list[str]] | None, host_keys: list[dict[str, Any]],
              policy: dict[str, Any]) -> list[Violation]:
    """Judge an SSH server from its identification protocol, KEXINIT lists and host keys."""
    out: list[Violation] = []
    if protocol.startswith("1."):
        out.append(Violation("protocol_1", f"SSH-{protocol}", policy.get("protocol_1", FAIL),
                             f"the server offers SSH protocol 1 (identification SSH-{protocol})"))
    if lists:
        sections = (("kex", ("kex_algorithms",)),
                    ("host_key_algorithms", ("server_host_key_algorithms",)),
                    ("ciphers", ("encryption_algorithms_client_to_server", "encryption_algorithms_server_to_client")),
                    ("macs", ("mac_algorithms_client_to_server", "mac_algorithms_server_to_client")))
        for section, keys in sections:
            seen: set[str] = set()
            for key in keys:
                for alg in lists.get(key, []):
                    if alg in seen:
                        continue
                    seen.add(alg)
                    for sev in (FAIL, WARN):
                        if _match(alg, policy[section].get(sev, [])):
                            out.append(Violation(f"{section}.{sev}", alg, sev,
                                                 f"{section}: {alg} is offered ({sev} under the policy)"))
                            break
    hk = policy.get("host_keys", {})
    for host_key in host_keys:
        ktype, bits = host_key["key_type"], host_key["bits"]
        if ktype in hk.get("disallowed_types", []):
            out.append(Violation("host_keys.disallowed_types", ktype, FAIL, f"host key of type {ktype}"))
        elif ktype == "ssh-rsa" and bits < hk.get("min_rsa_bits", 0):
            out.append(Violation("host_keys.min_rsa_bits", ktype, FAIL,
                                 f"RSA host key of {bits} bits (< {hk['min_rsa_bits']})"))
        elif ktype.startswith("ecdsa-") and bits < hk.get("min_ecdsa_bits", 0):
            out.append(Violation("host_keys.min_ecdsa_bits", ktype, FAIL, f"ECDSA host key of {bits} bits"))
    return out
