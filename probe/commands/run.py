"""`probe run`: scan devices and write the evidence file."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from probe.commands._common import add_scope_options
from probe.errors import UserError
from probe.models import DeviceState
from probe.options import (
    DEFAULT_MAX_RATE,
    SSH_POLICY_PRESETS,
    CredentialOptions,
    CredentialScope,
    CryptoOptions,
    DiscoveryOptions,
    SafetyOptions,
    ScanMethod,
    ScanOptions,
)
from probe.output.exitcodes import EXIT_INCOMPLETE, exit_code  # light; a signal handler must not import

if TYPE_CHECKING:
    from probe.engine import ScanState

# The scan itself (engine, discovery, evidence, packs, crypto policies...) is imported inside the
# functions below, when the command runs: `probe run --help` and a mistyped option cost only the
# parser (start-up counts in every per-service timing, bench/crypto_bench.py).

HELP = """\
Scan one or more devices: discover open services, run the profile's checks (only those that
evidence a clause in scope), judge every clause in scope, print a clause table and write the
evidence JSON (schema: `probe schema`).

Only the targets you name are contacted. Credential trials are bounded per service (--credential-budget:
80 on telnet and SSH, every public Mirai pair; 20 elsewhere) and ordered most-likely first: the vendor's
own defaults first when what the device shows (banners, web title, realm and Server, UPnP, SNMP
sysDescr, certificate subject) names its maker or product. The brute-force protection test runs only
with --allow-brute-force-test.

examples:
  probe run --target 10.0.0.1 --profile home-gateway --out gw.json
  probe run --target 10.0.0.1 --holding jc-star --apply-for cls       (only the MoC gap set)
  probe run --target 10.0.0.1 --holding jc-star --apply-for cls --declaration decl.yaml
        (the held label, as declared in held_label:, is recorded with the path's basis)
  probe run --targets-file devices.txt --profile general-iot --max-time 600
  probe run --target 10.0.0.1 --out gw.json --pack gw-pack.tar --sign lab.key   (signed evidence pack)
  probe run --target 10.0.0.1 --device-state factory      (scanned before initial set-up)
  probe run --target 10.0.0.1 --catalog cls-official.yaml (official clause texts you hold a licence for)

Clause verdicts come from each clause's evidence rules (`probe plan --explain CLAUSE`,
docs/verdicts.md): a finding counts only for the clauses whose rules select it by check and by
the role of its service (management, update, data, device-api; recorded in the evidence).

exit codes: 0 no clause FAIL or INCONCLUSIVE (MANUAL clauses are listed, not failed); 1 some
clause FAIL; 2 usage error; 3 could not complete (unreachable, interrupted, --max-time; the
evidence is still written, marked incomplete); 4 no FAIL but some clause INCONCLUSIVE.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="scan devices and write JSON evidence",
                       description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    t = p.add_argument_group("targets")
    t.add_argument("--target", action="append", default=[], metavar="HOST",
                   help="device IP address or host name (repeatable)")
    t.add_argument("--targets-file", metavar="FILE", help="file with one target per line (# comments)")
    add_scope_options(p)
    o = p.add_argument_group("output")
    o.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="evidence JSON path (default: probe-evidence-<UTC time>.json in the current directory)")
    o.add_argument("--pack", type=Path, default=None, metavar="DIR|FILE.tar",
                   help="also write an evidence pack (evidence + raw artefacts + manifest), as a directory "
                        "or a reproducible .tar/.tar.gz archive (docs/evidence-pack.md)")
    o.add_argument("--sign", type=Path, default=None, metavar="KEY",
                   help="sign the pack's manifest with this Ed25519 private key (from `probe keygen`)")
    o.add_argument("--quiet", action="store_true", help="no progress and no clause table")
    b = p.add_argument_group("how gently (defaults suit fragile embedded devices)")
    b.add_argument("--max-connections", type=int, default=4, metavar="N",
                   help="concurrent TCP connections per device, discovery and all checks together; also the most "
                        "UDP discovery probes in flight at once (default 4, at most 64)")
    b.add_argument("--timeout", type=float, default=5.0, metavar="SEC", help="per socket operation (default 5)")
    b.add_argument("--max-time", type=float, default=None, metavar="SEC",
                   help="overall time budget; when reached, unfinished work is INCONCLUSIVE and the run exits 3")
    b.add_argument("--ports", default=None, metavar="SPEC",
                   help="TCP ports to discover instead of the profile's (every built-in profile sweeps all "
                        "65,535), e.g. '22,80,443,8000-8100', or a named set: 'top' (1,127 ports consumer IoT "
                        "devices commonly use: 1-1024 plus MQTT, UPnP, CoAP, TR-069, alternative web ports; "
                        "probe/data/port_sets.yaml) or 'all'; recorded in the evidence")
    b.add_argument("--udp-ports", default=None, metavar="SPEC",
                   help="UDP ports to probe instead of the profile's, e.g. '53,161,1900,5353' or 'none'")
    b.add_argument("--scan-method", choices=("auto", "syn", "connect"), default="auto",
                   help="TCP sweep: SYN over raw sockets when root (auto, the default), or connect() always")
    b.add_argument("--max-rate", "--scan-rate", dest="max_rate", type=int, default=DEFAULT_MAX_RATE, metavar="PPS",
                   help=f"ceiling of the SYN sweep in packets per second (default {DEFAULT_MAX_RATE:,}); below it the "
                        "sweep adapts, starting at 5,000 and backing off when probes are lost or round-trip times "
                        "grow. Lower it for a fragile device (e.g. 500); also caps connects started per second in "
                        "the connect sweep. Recorded in the evidence (docs/discovery.md). --scan-rate is its former "
                        "name (then a fixed rate)")
    b.add_argument("--scan-concurrency", type=int, default=512, metavar="N",
                   help="connects in flight during the connect sweep (default 512)")
    b.add_argument("--no-credentials", action="store_true",
                   help="do not try default credentials (their clauses become INCONCLUSIVE)")
    b.add_argument("--credential-budget", type=int, default=None, metavar="N",
                   help="login attempts per service at most (default: 80 on telnet and SSH, which covers the "
                        "whole built-in list - every public Mirai pair - plus the vendor pairs the device's "
                        "fingerprint selects; 20 on every other login, whose likely defaults are few and which "
                        "delay or lock out sooner)")
    b.add_argument("--credential-delay", type=float, default=0.0, metavar="SEC",
                   help="pause between login attempts on one service (default 0)")
    b.add_argument("--credential-scope", choices=("first", "accounts"), default="first",
                   help="first (default): stop a service's trials at its first accepted default credential, "
                        "which is all the FAIL needs and the fewest logins on the device; accounts: go on "
                        "with the other accounts to list every one that has a default password (slower: "
                        "devices delay each failed login). SNMP communities are always all tried")
    b.add_argument("--credentials", type=Path, default=None, metavar="FILE",
                   help="your own credential CSV (service,username,password[,source,rank]); tried before the "
                        "built-in default list, within --credential-budget, and redacted in the evidence")
    b.add_argument("--brute-force-attempts", type=int, default=12, metavar="N",
                   help="wrong passwords per login service in the opt-in brute-force test (default 12, max 30)")
    b.add_argument("--allow-brute-force-test", action="store_true",
                   help="opt in to the bounded repeated-failed-login test (may lock accounts on the device)")
    b.add_argument("--allow-upnp-mapping-test", action="store_true",
                   help="opt in to the one state-changing UPnP test: ask the gateway's IGD to map one port for "
                        "another LAN address (the gateway's own, 60 s lease), then delete it and check it is gone. "
                        "An accepted mapping for another host is a FAIL; without the opt-in only read-only "
                        "actions are called")
    b.add_argument("--no-nmap", action="store_true", help="never use nmap, even when it is installed")
    b.add_argument("--nmap-versions", action="store_true",
                   help="also ask nmap for product/version of services probe identified itself (slower: "
                        "nmap -sV waits out login delays); by default nmap only looks at ports probe could "
                        "not identify")
    c = p.add_argument_group("crypto policy (docs/crypto-policy.md)")
    c.add_argument("--ca-file", metavar="PEM",
                   help="CA certificate(s) the device's TLS certificates must chain to; without it, "
                        "certificate trust is reported but not judged (the same for every service, the update "
                        "service included)")
    c.add_argument("--tls-policy", metavar="YAML", help="TLS policy file instead of the built-in "
                   "(Mozilla intermediate 5.7; same shape as probe/data/policies/tls.yaml)")
    c.add_argument("--ssh-policy", metavar="YAML|PRESET", help="SSH policy file instead of the built-in "
                   "(same shape as probe/data/policies/ssh.yaml), or the preset 'ssh-audit' (ssh-audit 3.x's "
                   "fail/warn classes; docs/crypto-policy.md lists how it differs from the built-in)")
    c.add_argument("--hostname", metavar="NAME",
                   help="the name users reach the device by: sent as TLS SNI and checked against the "
                        "certificate's subject alternative names instead of the scanned address (a mismatch "
                        "FAILs with --ca-file, warns without)")
    st = p.add_argument_group("device state")
    st.add_argument("--device-state", choices=[d.value for d in DeviceState], default=None,
                    help="the state the device is in, as you state it (recorded in the evidence as your statement): "
                         "initialised (default: set up as a user would) or factory (factory default state, which "
                         "EN 303 645 5.1-1 and PSTI para 1 exempt: a working default login is still reported, but "
                         "the password clauses are INCONCLUSIVE 'device-state', to re-test after initial set-up)")
    u = p.add_argument_group("manufacturer declaration")
    u.add_argument("--declaration", default=None, type=Path, metavar="FILE",
                   help="manufacturer declaration YAML (`probe declaration --template`): attached to the clauses "
                        "it covers, which stay MANUAL with basis 'declared'; the file is kept as evidence. Its "
                        "interfaces and update sections are compared with what the run observes (declared_interfaces, "
                        "declared_authentication, declared_update; docs/declared-observed.md)")
    u.add_argument("--fetch-declared-urls", action="store_true",
                   help="opt in to fetching the URLs in the declaration (policy, support period...) and recording "
                        "status and sha256; those URLs are NOT the device and may be on the internet")
    p.set_defaults(func=run)


def options_from(args: argparse.Namespace) -> ScanOptions:
    """The typed options from the command line; every bad value is a one-line usage error here,
    before any packet is sent (ScanOptions validates ranges, this adds the files it must read)."""
    from probe.compliance.profile import parse_ports, port_set_name
    from probe.services.credentials import load_user_file

    user_file = None
    if getattr(args, "credentials", None) is not None:
        load_user_file(args.credentials)  # a malformed file is a usage error before any packet is sent
        user_file = args.credentials
    return ScanOptions(
        safety=SafetyOptions(max_connections=args.max_connections, timeout=args.timeout, max_time=args.max_time,
                             upnp_mapping_test=args.allow_upnp_mapping_test),
        discovery=DiscoveryOptions(
            method=ScanMethod(args.scan_method), max_rate=args.max_rate, concurrency=args.scan_concurrency,
            tcp_ports=parse_ports(args.ports, "--ports") if args.ports else None,
            tcp_ports_name=port_set_name(args.ports) if args.ports else None,
            udp_ports=(() if args.udp_ports == "none" else parse_ports(args.udp_ports, "--udp-ports"))
            if args.udp_ports else None,
            use_nmap=not args.no_nmap, nmap_versions=bool(args.nmap_versions)),
        credentials=CredentialOptions(
            enabled=not args.no_credentials, budget=args.credential_budget, delay=args.credential_delay,
            scope=CredentialScope(args.credential_scope), user_file=user_file,
            brute_force=args.allow_brute_force_test, brute_force_attempts=args.brute_force_attempts),
        crypto=_crypto_options(args),
    )


def _crypto_options(args: argparse.Namespace) -> CryptoOptions:
    """Validate the crypto policy inputs up front: a bad file is a usage error, not a scan result."""
    from probe.compliance.cryptopolicy import load_ssh_policy, load_tls_policy

    ca_file = tls_policy = None
    ssh_policy: Path | str | None = None
    if args.ca_file:
        from probe.protocols.x509 import load_ca_bundle  # cryptography.x509: only with a CA file

        try:
            load_ca_bundle(args.ca_file)
        except (OSError, ValueError) as exc:
            raise UserError(f"--ca-file: {exc}") from None
        ca_file = Path(args.ca_file).absolute()
    if args.tls_policy:
        load_tls_policy(args.tls_policy)
        tls_policy = Path(args.tls_policy).absolute()
    if args.ssh_policy:
        load_ssh_policy(args.ssh_policy)
        ssh_policy = args.ssh_policy if args.ssh_policy in SSH_POLICY_PRESETS else Path(args.ssh_policy).absolute()
    return CryptoOptions(ca_file=ca_file, tls_policy=tls_policy, ssh_policy=ssh_policy,
                         hostname=getattr(args, "hostname", None))


class _Interrupts:
    """First SIGINT/SIGTERM: stop gracefully and keep the evidence. Second: leave at once."""

    def __init__(self, state: ScanState) -> None:
        self.state = state
        self.count = 0

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.count > 1:
            os.write(2, b"\nprobe: second interrupt, exiting now (evidence not written)\n")
            os._exit(EXIT_INCOMPLETE)
        os.write(2, b"\nprobe: interrupted; finishing up and writing the evidence gathered so far "
                    b"(interrupt again to quit at once)\n")
        self.state.clock.cancel.set()


def run(args: argparse.Namespace) -> int:
    # the declaration reader (PyYAML), signing (cryptography) and the URL fetcher load only when
    # their options are given, below
    from probe.commands._common import load_scope
    from probe.engine import ScanState, run_scan
    from probe.output.evidence import build, canonical_bytes, check_writable, write_atomic
    from probe.output.pack import check_destination, write_pack
    from probe.output.path_text import path_lines
    from probe.output.terminal import Progress, clause_table, safe
    from probe.targets import read_targets_file, resolve_target

    raw_targets = list(args.target) + (read_targets_file(args.targets_file) if args.targets_file else [])
    if not raw_targets:
        raise UserError("no target: give --target HOST (repeatable) or --targets-file FILE")
    targets = list(dict.fromkeys(resolve_target(t) for t in raw_targets))
    options = options_from(args)
    if args.fetch_declared_urls and not args.declaration:
        raise UserError("--fetch-declared-urls needs --declaration FILE")
    decl = None
    if args.declaration:
        from probe.compliance.declaration import attach, declared_facts, load_declaration, record

        decl = load_declaration(args.declaration)  # its held_label is the path's label
    catalog, profile, scope = load_scope(args, decl, default_source="run date")
    out = args.out or Path(f"probe-evidence-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json")
    check_writable(out)
    if args.sign and not args.pack:
        raise UserError("--sign needs --pack DIR|FILE.tar: the signature covers the pack's manifest")
    key = None
    if args.sign:
        from probe.output.signing import fingerprint, load_private

        key = load_private(args.sign)  # a bad key fails now, not after the scan
    if args.pack:
        check_destination(args.pack)

    state = ScanState(targets=targets, profile=profile, scope=scope, options=options,
                      device_state=DeviceState(args.device_state or DeviceState.INITIALISED),
                      device_state_source="operator" if args.device_state else "default")
    if decl is not None:
        fetch = None
        if args.fetch_declared_urls:
            from probe.services.declared_urls import fetch_all

            fetch = partial(fetch_all, add_artefact=state.store.add_artefact, timeout=options.safety.timeout)
        art = record(decl, state.store.add_artefact)
        state.declarations = attach(decl, state.store.add_artefact, catalog, fetch=fetch, artefact=art)
        state.declared = declared_facts(decl, art)
    handler = _Interrupts(state)
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_scan(state, catalog, Progress(quiet=args.quiet))
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    doc = build(state, catalog)
    write_atomic(out, canonical_bytes(doc))
    if args.pack:
        write_pack(doc, args.pack, key=key)
    if not args.quiet:
        print()
        if scope.path is not None:
            print("\n".join(path_lines(doc["recognition"])) + "\n")
        clause_table(doc)
        print(f"\nevidence: {safe(out, 400)}", file=sys.stdout)
        if args.pack:
            signed = f" (signed, key {fingerprint(key.public_key())})" if key else " (unsigned)"
            print(f"pack: {safe(args.pack, 400)}{signed}")
    code = exit_code(doc)
    if not doc["run"]["complete"]:
        _leave_without_stragglers(code)
    return code


def _leave_without_stragglers(code: int) -> None:
    """After an interrupt or --max-time the evidence is on disk; don't let a worker still blocked
    in a client library's read (the engine stopped waiting for it) hold the process open."""
    stragglers = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()
                  and not t.daemon]
    if stragglers:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
