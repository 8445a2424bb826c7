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
from typing import TYPE_CHECKING, Any

from probe import yamlfile
from probe.errors import UserError
from probe.options import SSH_POLICY_PRESETS

if TYPE_CHECKING:  # types only; the TLS parsers load with the TLS policy, not for an SSH judgement
    from probe.protocols.tls_hello import TLSScan
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
    if isinstance(path, str) and path in SSH_POLICY_PRESETS and name == "ssh":
        name, path = f"ssh-{path}", None  # a preset shipped as data
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
    data = yamlfile.load_data(text, where)
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
        kex = pol.setdefault("key_exchange", {})
        if not isinstance(kex, dict):
            raise TypeError("key_exchange must be a mapping")
        for key in ("min_dh_bits", "min_ecdh_bits"):
            if not isinstance(kex.get(key, 0), int):
                raise TypeError(f"key_exchange.{key} must be a number of bits")
        from probe.protocols.tls_hello import named_groups

        unknown = [g for g in kex.get("groups") or [] if g not in {n.name for n in named_groups().values()}]
        if unknown:
            raise TypeError(f"key_exchange.groups names unknown groups {unknown}")
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


def off_policy_groups(policy: dict[str, Any], version: str) -> list[int]:
    """The EC groups a server should refuse under the policy, to offer on their own (the scan's
    group probe). Empty when the policy names no group list. Post-quantum hybrids are not probed."""
    allowed = set(policy.get("key_exchange", {}).get("groups") or [])
    if not allowed:
        return []
    from probe.protocols.tls_hello import GROUPS, TLS13_GROUPS, named_groups

    table = named_groups()
    if version == "TLSv1.3":
        pool = [c for c, g in table.items() if g.tls13 and g.kind == "ec"]
        pool.sort(key=lambda c: (c not in TLS13_GROUPS, c))
    else:
        pool = [c for c in GROUPS if table[c].kind == "ec"]
    return [c for c in pool if table[c].name not in allowed]


def judge_tls_configuration(scan: TLSScan, policy: dict[str, Any]) -> TLSJudgement:
    """Violations in headline order: protocol versions, then key exchange groups, then suites."""
    from probe.protocols.tls_hello import suite_name

    allowed = set(policy["protocols"]["allowed"])
    allowed_suites: dict[str, set[str]] = {v: set(s) for v, s in policy["cipher_suites"].items()}
    kpol = policy.get("key_exchange", {})
    allowed_groups = set(kpol.get("groups") or [])
    versions: list[Violation] = []
    kex: list[Violation] = []
    suites: list[Violation] = []
    undetermined: list[str] = []
    for name, vr in scan.versions.items():
        if vr.accepted and name not in allowed:
            versions.append(Violation("protocols.allowed", name, FAIL,
                                      f"{name} is accepted; the policy allows only {', '.join(sorted(allowed))}"))
        elif vr.accepted is None and name not in allowed:
            undetermined.append(f"whether {name} is accepted ({vr.reason or 'no answer'})")
        if not (vr.accepted and name in allowed):
            continue
        seen: set[str] = set()
        observed = [(suite_name(code), k) for code, k in vr.key_exchange]
        observed += [("", _group_info(code)) for code in vr.groups_accepted]
        for via, k in observed:
            key = f"{k.kind}:{k.group}:{k.bits}"
            if key in seen:
                continue
            seen.add(key)
            where = f" ({via})" if via else ""
            if k.kind == "DHE" or k.group.startswith("ffdhe"):
                if kpol.get("min_dh_bits") and k.bits < kpol["min_dh_bits"]:
                    kex.append(Violation("key_exchange.min_dh_bits", f"{name} DH {k.bits}", FAIL,
                                         f"{name} key exchange uses a {k.bits}-bit DH group{where}; the policy "
                                         f"requires at least {kpol['min_dh_bits']} bits"))
                continue
            if kpol.get("min_ecdh_bits") and k.bits and k.bits < kpol["min_ecdh_bits"]:
                kex.append(Violation("key_exchange.min_ecdh_bits", f"{name} {k.group}", FAIL,
                                     f"{name} key exchange uses {k.group} ({k.bits} bits){where}; the policy "
                                     f"requires at least {kpol['min_ecdh_bits']} bits"))
            elif allowed_groups and k.group not in allowed_groups:
                kex.append(Violation("key_exchange.groups", f"{name} {k.group}", FAIL,
                                     f"{name} accepts the group {k.group}{where}; the policy allows "
                                     f"{', '.join(sorted(allowed_groups))}"))
        if vr.groups_probed and not vr.groups_complete:
            undetermined.append(f"which key exchange groups {name} accepts ({vr.groups_note or 'probe incomplete'})")
        permitted = allowed_suites.get(name)
        if permitted is None:
            continue  # the policy does not restrict suites for this version
        for code in vr.suites:
            n = suite_name(code)
            if n not in permitted:
                suites.append(Violation(f"cipher_suites.{name}", n, FAIL,
                                        f"{name} accepts {n} (0x{code:04X}), not in the policy's list"))
        if not vr.suites_complete:
            undetermined.append(f"the full {name} suite list ({vr.suites_note or 'enumeration incomplete'})")
    return TLSJudgement(versions + kex + suites, undetermined)


def _group_info(code: int) -> Any:
    from probe.protocols.tls_hello import named_kex

    return named_kex("ECDHE", code)


def headline(violations: list[Violation], limit: int = 6) -> list[str]:
    """Readable summary lines, most serious class first: one line per rule and version, listing
    the items (so forty weak suites read as one line, after the old protocol versions)."""
    groups: dict[tuple[str, str], list[Violation]] = {}
    for v in violations:
        groups.setdefault((v.rule, v.severity), []).append(v)
    lines: list[str] = []
    for (rule, _sev), vs in groups.items():
        if rule == "protocols.allowed":
            names = ", ".join(v.item for v in vs)
            lines.append(f"accepts {names}, which the policy does not allow")
        elif rule.startswith("cipher_suites."):
            version = rule.split(".", 1)[1]
            shown = ", ".join(v.item for v in vs[:limit]) + (f" and {len(vs) - limit} more" if len(vs) > limit else "")
            lines.append(f"{version} accepts {len(vs)} cipher suite{'s' if len(vs) > 1 else ''} outside the "
                         f"policy: {shown}")
        else:
            lines.extend(v.message for v in vs)
    return lines


# -- certificates ---------------------------------------------------------------------------------
@dataclass
class CertJudgement:
    violations: list[Violation]
    notes: list[str]

    @property
    def failed(self) -> bool:
        return any(v.severity == FAIL for v in self.violations)


def judge_certificates(chain: list[CertInfo], policy: dict[str, Any], *, target_ip: str, now: dt.datetime,
                       trust: ChainCheck | None, leaf_only: bool = False,
                       hostname: str | None = None) -> CertJudgement:
    """Judge the served chain: every certificate's key, hash and dates; the leaf's trust and name.

    A self-signed root in the chain is not judged on its own signature hash (clients never check
    a trust anchor's self-signature), but a self-signed *leaf* is. The name rule checks the leaf's
    subject alternative names against `hostname` (the name users reach the device by, --hostname)
    or else the scanned address; with a CA file a mismatch weighs like an untrusted chain
    (`name_mismatch_with_ca_file`), without one it is `name_mismatch` (a warning by default).
    """
    cpol = policy["certificate"]
    on = cpol["verdicts"]
    out: list[Violation] = []
    notes: list[str] = []
    if leaf_only:
        notes.append("only the leaf certificate could be read (probe's own handshakes failed and this Python's "
                     "ssl module returns the leaf alone)")
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
                                     f"the chain does not validate against the CA file: {trust.detail}"))
            else:
                notes.append(trust.detail)
        else:
            if leaf.self_signed:
                out.append(Violation("certificate.self_signed_without_ca_file", "leaf",
                                     on["self_signed_without_ca_file"],
                                     "self-signed certificate; no CA file given, so trust was not assessed"))
            else:
                notes.append("no CA file given: chain trust not assessed")
        wanted = hostname or target_ip
        matched = leaf.matches_hostname(hostname) if hostname else leaf.matches_ip(target_ip)
        if not matched:
            names = ", ".join(leaf.ip_addresses + leaf.dns_names) or "none"
            with_ca = trust is not None and trust.trusted is not None
            rule = "name_mismatch_with_ca_file" if with_ca else "name_mismatch"
            cn = leaf.common_name
            cn_note = (f"; its subject CN {cn} would match, but clients ignore the CN when checking names"
                       if cn and cn.lower() == wanted.lower() else "")
            out.append(Violation(f"certificate.{rule}", "leaf", on.get(rule, on["name_mismatch"]),
                                 f"the certificate is not issued for {wanted}: its subject alternative names "
                                 f"are {names}{cn_note}"))
    return CertJudgement(out, notes)


# -- SSH ------------------------------------------------------------------------------------------
def _match(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


_SECTION_WORDS = {"kex": "key exchange", "host_key_algorithms": "host key signature algorithm",
                  "ciphers": "cipher", "macs": "MAC"}
# Names that are signals, not algorithms (RFC 8308 extension negotiation, the Terrapin strict-kex
# markers): never judged as key exchanges.
_PSEUDO = ("ext-info-c", "ext-info-s", "kex-strict-c-v00@openssh.com", "kex-strict-s-v00@openssh.com")


def judge_ssh(*, protocol: str, lists: dict[str, list[str]] | None, host_keys: list[dict[str, Any]],
              policy: dict[str, Any], terrapin: dict[str, Any] | None = None,
              gex: list[dict[str, Any]] | None = None) -> list[Violation]:
    """Judge an SSH server from its identification protocol, KEXINIT lists, host keys, its Terrapin
    exposure and the DH group-exchange moduli it hands out. Violations come in headline order."""
    out: list[Violation] = []
    reasons: dict[str, str] = policy.get("reasons") or {}
    if protocol.startswith("1."):
        out.append(Violation("protocol_1", f"SSH-{protocol}", policy.get("protocol_1", FAIL),
                             f"the server offers SSH protocol 1 (identification SSH-{protocol})"))
    if terrapin and terrapin.get("vulnerable") and policy.get("terrapin"):
        out.append(Violation("terrapin", "CVE-2023-48795", policy["terrapin"],
                             "vulnerable to the Terrapin attack (CVE-2023-48795): it offers "
                             + " and ".join(terrapin["because"]) + " without strict key exchange "
                             "(kex-strict-s-v00@openssh.com)"))
    if lists:
        sections = (("kex", ("kex_algorithms",)),
                    ("host_key_algorithms", ("server_host_key_algorithms",)),
                    ("ciphers", ("encryption_algorithms_client_to_server", "encryption_algorithms_server_to_client")),
                    ("macs", ("mac_algorithms_client_to_server", "mac_algorithms_server_to_client")))
        for section, keys in sections:
            seen: set[str] = set()
            for key in keys:
                for alg in lists.get(key, []):
                    if alg in seen or alg in _PSEUDO:
                        continue
                    seen.add(alg)
                    for sev in (FAIL, WARN):
                        if _match(alg, policy[section].get(sev, [])):
                            why = next((r for pat, r in reasons.items() if fnmatch.fnmatchcase(alg, pat)), "")
                            out.append(Violation(f"{section}.{sev}", alg, sev,
                                                 f"{_SECTION_WORDS[section]} {alg} is offered"
                                                 + (f" ({why})" if why else "")))
                            break
    gpol = policy.get("gex") or {}
    for probe in gex or []:
        bits = probe.get("modulus_bits")
        if not bits:
            continue
        req = probe["request"]
        what = (f"{probe['algorithm']} hands out a {bits}-bit modulus for a request of "
                f"{req['min']}/{req['preferred']}/{req['max']} bits")
        if gpol.get("min_modulus_bits") and bits < gpol["min_modulus_bits"]:
            out.append(Violation("gex.min_modulus_bits", f"{probe['algorithm']} {bits}", FAIL,
                                 f"{what} (the policy requires at least {gpol['min_modulus_bits']})"))
        elif gpol.get("warn_below_bits") and bits < gpol["warn_below_bits"]:
            out.append(Violation("gex.warn_below_bits", f"{probe['algorithm']} {bits}", WARN,
                                 f"{what} (below {gpol['warn_below_bits']} bits)"))
    hk = policy.get("host_keys", {})
    for host_key in host_keys:
        ktype, bits = host_key["key_type"], host_key["bits"]
        if ktype in hk.get("disallowed_types", []):
            out.append(Violation("host_keys.disallowed_types", ktype, FAIL, f"a {ktype} host key is served"))
        elif ktype == "ssh-rsa" and bits < hk.get("min_rsa_bits", 0):
            out.append(Violation("host_keys.min_rsa_bits", ktype, FAIL,
                                 f"the RSA host key has {bits} bits (the policy requires at least "
                                 f"{hk['min_rsa_bits']})"))
        elif ktype == "ssh-rsa" and bits < hk.get("warn_below_rsa_bits", 0):
            out.append(Violation("host_keys.warn_below_rsa_bits", ktype, WARN,
                                 f"the RSA host key has {bits} bits (below {hk['warn_below_rsa_bits']})"))
        elif ktype.startswith("ecdsa-") and bits < hk.get("min_ecdsa_bits", 0):
            out.append(Violation("host_keys.min_ecdsa_bits", ktype, FAIL, f"the ECDSA host key has {bits} bits"))
    order = ("protocol_1", "terrapin", "kex", "gex", "host_key_algorithms", "host_keys", "ciphers", "macs")
    return sorted(out, key=lambda v: order.index(v.rule.split(".")[0]) if v.rule.split(".")[0] in order else 99)


def ssh_headline(violations: list[Violation], limit: int = 6) -> list[str]:
    """One line per algorithm list ("key exchange: a, b, c are offered"), other rules as they are."""
    lines: list[str] = []
    groups: dict[str, list[Violation]] = {}
    for v in violations:
        section = v.rule.split(".")[0]
        if section in _SECTION_WORDS:
            if section not in groups:
                groups[section] = []
                lines.append(section)  # placeholder keeps the order
            groups[section].append(v)
        else:
            lines.append(v.message)
    out: list[str] = []
    for line in lines:
        if line in groups:
            vs = groups[line]
            if len(vs) == 1:
                out.append(vs[0].message)
                continue
            shown = ", ".join(v.item for v in vs[:limit]) + (f" and {len(vs) - limit} more" if len(vs) > limit else "")
            out.append(f"{_SECTION_WORDS[line]}s offered outside the policy: {shown}")
        else:
            out.append(line)
    return out
