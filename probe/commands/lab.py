"""`probe lab`: bring the emulated device lab up and down (real Debian daemons in namespaces)."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import TYPE_CHECKING

from probe.lab.variants import known_variants, load_variant

if TYPE_CHECKING:  # the lab manager (namespaces, PKI, cryptography) loads when an action runs
    from probe.lab import manager

HELP = """\
The device lab: emulated IoT devices and home gateways made of REAL Debian daemons (dropbear,
OpenSSH, busybox telnetd, lighttpd, vsftpd, mosquitto, net-snmp, miniupnpd, dnsmasq,
rtsp-server-perl), each in its own network namespace on 10.231.<instance>.0/24, plus a broken and
hostile device ('hostile') made of probe's own misbehaving servers (python -m probe.hostile) and
a real OpenSSH with a hostile banner. Needs root, and the daemons from scripts/setup-system.sh.
Nothing leaves the machine: no default route in the devices, an unreachable route for
10.231.0.0/16 while a lab is up, IPv6 off on the links.

variants:
{variants}

Device k of an instance is at 10.231.<instance>.<4k+2> (the host end is .<4k+1>), in the order
given. Logins on lab devices end in a fake shell that runs nothing. Ground truth for a scan of
each variant: probe/lab/variants/<variant>.truth.yaml; details: docs/lab.md.

examples:
  sudo probe lab up weak-gateway hardened-gateway camera
  sudo probe lab status --json
  sudo probe run --target 10.231.0.2 --profile home-gateway --allow-brute-force-test
  sudo probe lab up hostile --instance 9
  sudo probe run --target 10.231.9.2 --profile general-iot --allow-brute-force-test --max-time 90
  sudo probe lab down                (or: probe lab down --all)
"""


def _variant_lines() -> str:
    lines = []
    for name in known_variants():
        v = load_variant(name)
        lines.append(textwrap.fill(f"{name} ({v.profile}): {v.summary}", width=96,
                                   initial_indent="  ", subsequent_indent="      "))
    return "\n".join(lines)


class _HelpWithVariants(argparse.RawDescriptionHelpFormatter):
    """Fills the variant list into HELP when `probe lab --help` is shown: reading every variant file
    for each parser built (`probe --help` builds them all) would cost every start."""

    def add_text(self, text: str | None) -> None:
        super().add_text(HELP.format(variants=_variant_lines()) if text is HELP else text)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="start/stop the emulated device lab (root; real daemons in namespaces)",
                       description=HELP, formatter_class=_HelpWithVariants)
    lab_sub = p.add_subparsers(dest="lab_command", metavar="ACTION")
    inst_help = "lab instance 0-254 (default: $PROBE_LAB_INSTANCE or 0); picks 10.231.<N>.0/24"

    up = lab_sub.add_parser("up", help="start devices (default: all variants)",
                            description="Start one device per VARIANT: " + ", ".join(known_variants()))
    up.add_argument("variants", nargs="*", metavar="VARIANT", help="variants to start (default: all)")
    up.add_argument("--instance", type=int, default=None, metavar="N", help=inst_help)
    up.add_argument("--json", action="store_true", help="print the devices as JSON")
    up.set_defaults(func=_up)

    down = lab_sub.add_parser("down", help="stop devices, delete namespaces, links, routes and files",
                              description="Tear down an instance; safe after a crash or a stale state file.")
    down.add_argument("--instance", type=int, default=None, metavar="N", help=inst_help)
    down.add_argument("--all", action="store_true", help="every instance found (state files and pl<N>- namespaces)")
    down.set_defaults(func=_down)

    st = lab_sub.add_parser("status", help="list running lab devices, addresses and services")
    st.add_argument("--instance", type=int, default=None, metavar="N", help="only this instance")
    st.add_argument("--json", action="store_true", help="print as JSON (includes lab credentials)")
    st.set_defaults(func=_status)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _describe(dev: manager.LabDevice) -> str:
    ports = ", ".join(f"{s.port}/{s.transport} {s.protocol}" for s in dev.services)
    return f"{dev.name:18} {dev.address:15} ns={dev.namespace:10} {dev.model} [{ports}]"


def _up(args: argparse.Namespace) -> int:
    from probe.lab import manager

    devices = manager.up(args.variants or known_variants(), args.instance)
    if args.json:
        print(json.dumps([d.to_json() for d in devices], indent=2))
    else:
        for d in devices:
            print(_describe(d))
        print(f"lab instance {devices[0].instance} up; stop it with: probe lab down --instance {devices[0].instance}")
    return 0


def _down(args: argparse.Namespace) -> int:
    from probe.lab import manager

    done = manager.down(args.instance, all_instances=args.all)
    print("lab down: " + (", ".join(f"instance {i}" for i in done) if done else "nothing was up"))
    return 0


def _status(args: argparse.Namespace) -> int:
    from probe.lab import manager

    rows = manager.status(args.instance)
    if args.json:
        print(json.dumps([{**r.device.to_json(), "namespace_present": r.namespace_present,
                           "processes_alive": r.processes, "processes_expected": r.expected,
                           "accounts_detached": r.accounts_detached, "healthy": r.healthy} for r in rows], indent=2))
        return 0
    if not rows:
        print("no lab device is up")
    for r in rows:
        ns = "yes" if r.namespace_present else "no"
        health = "ok" if r.healthy else f"DEGRADED ({r.processes}/{r.expected} daemons, ns={ns})"
        if r.accounts_detached:
            health += ("; its daemons lost the device's accounts (the host's /etc/shadow was replaced while the"
                       " lab was up, e.g. by a package install): run 'probe lab down' and 'probe lab up' again")
        print(f"[{r.device.instance}] {_describe(r.device)} {health}")
    return 0
