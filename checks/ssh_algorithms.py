"""ssh_algorithms: the SSH server's offered algorithms, host keys, Terrapin exposure and DH
group-exchange moduli, judged against the SSH policy (built-in, the ssh-audit preset, or a file)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from probe.compliance.cryptopolicy import FAIL, judge_ssh, load_ssh_policy, ssh_headline
from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import ServiceCheck
from probe.protocols import ssh_kexinit

_CODES = {ssh_kexinit.CONNECTIVITY: InconclusiveReason.CONNECTIVITY,
          ssh_kexinit.MISBEHAVED: InconclusiveReason.DEVICE_MISBEHAVED,
          ssh_kexinit.UNSUPPORTED: InconclusiveReason.UNSUPPORTED}


class SshAlgorithms(ServiceCheck):
    check_id = "ssh_algorithms"

    def run_service(self, ctx: ServiceContext) -> Iterable[Finding]:
        policy = load_ssh_policy(ctx.options.crypto.ssh_policy)
        port = ctx.service.port
        connect = functools.partial(ctx.connection, port)
        scan = ssh_kexinit.scan(connect, timeout=ctx.remaining(), check_cancelled=ctx.check_cancelled,
                                max_bytes=ctx.options.safety.max_read_bytes,
                                parallel=max(1, ctx.options.safety.max_connections - 1))
        arts: list[str] = []
        if scan.transcript:
            arts.append(ctx.artefact("banner", f"ssh-server-bytes-{port}.bin", scan.transcript))
        if scan.kexinit is not None:
            arts.append(ctx.artefact("kexinit", f"ssh-kexinit-{port}.bin", scan.kexinit.payload))
        for hk in scan.host_keys:
            arts.append(ctx.artefact("ssh-host-key", f"ssh-host-key-{port}-{hk.key_type}.bin", hk.blob))
        details: dict[str, Any] = {"scan": scan.to_json(),
                   "policy": {k: policy[k] for k in ("name", "source", "source_version", "_where")}}

        if scan.banner is None:
            yield ctx.inconclusive("No SSH identification string was read", scan.error,
                                   _CODES.get(scan.reason_code or "", InconclusiveReason.DEVICE_MISBEHAVED),
                                   details=details, artefacts=arts)
            return
        lists = scan.kexinit.lists if scan.kexinit else None
        host_keys = [hk.to_json() for hk in scan.host_keys]
        violations = judge_ssh(protocol=scan.banner.protocol, lists=lists, host_keys=host_keys, policy=policy,
                               terrapin=ssh_kexinit.terrapin(lists) if lists else None,
                               gex=[g.to_json() for g in scan.gex])
        details["violations"] = [v.to_json() for v in violations]
        fails = ssh_headline([v for v in violations if v.severity == FAIL])
        warns = ssh_headline([v for v in violations if v.severity != FAIL])
        if fails:
            yield ctx.finding(Status.FAIL, "SSH algorithms outside the policy",
                              "; ".join(fails) + f" ({scan.banner.line}; policy {policy['name']})"
                              + (f"; also: {'; '.join(warns)}" if warns else ""),
                              details=details, artefacts=arts, severity="high")
            return
        if scan.kexinit is None:
            yield ctx.inconclusive(f"{scan.banner.line}: the algorithm lists could not be read", scan.error,
                                   _CODES.get(scan.reason_code or "", InconclusiveReason.DEVICE_MISBEHAVED),
                                   details=details, artefacts=arts)
            return
        if scan.host_key_errors:
            missing = "; ".join(f"{alg}: {why}" for alg, why in scan.host_key_errors.items())
            code = (InconclusiveReason.UNSUPPORTED if all("no key exchange" in w or "cannot run" in w
                                                          for w in scan.host_key_errors.values())
                    else InconclusiveReason.DEVICE_MISBEHAVED)
            yield ctx.inconclusive("No algorithm violation, but not every host key could be read to check its size",
                                   missing, code, details=details, artefacts=arts)
            return
        gex = ", ".join(str(g.modulus_bits) for g in scan.gex if g.modulus_bits)
        yield ctx.finding(Status.PASS, "SSH algorithms meet the policy",
                          f"{scan.banner.line}: host keys " + ", ".join(k.describe() for k in scan.host_keys)
                          + (f"; group exchange moduli {gex} bits" if gex else "")
                          + f"; policy {policy['name']}" + (f"; warnings: {'; '.join(warns)}" if warns else ""),
                          details=details, artefacts=arts, severity="high")
