"""Bad input: one-line error, exit 2, no traceback, nothing sent, before any scanning.

Name resolution is tested inside a fresh network namespace (`unshare --net`) that has only a
down loopback interface: the resolver's query has no route anywhere, so the lookup fails
locally and no packet can leave the machine (the host's resolver is not on loopback). Every
CLI call that names a non-loopback address runs in such a namespace too, so that even a
regression in target validation could not send a packet off the machine.
"""

from __future__ import annotations

import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.errors import UserError
from probe.targets import connected_ipv4_networks, resolve_target
from tests.helpers.cli import CliResult, InProcessCli, run_batch_subprocess
from tests.helpers.processes import require

ESC = "\x1b"
ISOLATED = ["unshare", "--net"]


UNRESOLVABLE = ["nosuch.invalid", "probe-test.example.invalid"]
MALFORMED_NAMES = ["evil\x1b]0;pwned\x07.invalid", "a b.invalid", "-lead.invalid", "x" * 300, "under_score.invalid",
                   "ünïcode.invalid", "a..b"]
NON_HOSTS = [("255.255.255.255", "broadcast"), ("0.0.0.0", "unspecified"), ("0.1.2.3", "this network"),
             ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
             ("::", "unspecified"), ("::ffff:255.255.255.255", "broadcast"), ("10.9.8.0/24", "not a network"),
             ("", "empty")]
BAD_TARGETS_FILES = [b"\xff\xfe\x00binary", b"127.0.0.1\n\x1b]0;x\x07bad\n", b"10.0.0.0/8\n", b"# only a comment\n"]


@dataclass
class Isolated:
    """Every command line of this module that names a non-loopback target, run in ONE isolated
    process (`unshare --net`), each through probe.cli.main; results by case."""

    results: dict[str, CliResult]
    outs: dict[str, Path]

    def __call__(self, case: str) -> tuple[CliResult, Path]:
        return self.results[case], self.outs[case]


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Isolated:
    require("unshare")
    tmp = tmp_path_factory.mktemp("isolated")
    cases: dict[str, list[str]] = {}
    for i, name in enumerate(UNRESOLVABLE):
        cases[f"resolve-{i}"] = ["run", "--target", name]
    for i, name in enumerate(MALFORMED_NAMES):
        cases[f"name-{i}"] = ["run", f"--target={name}"]
    for i, (target, _) in enumerate(NON_HOSTS):
        cases[f"target-{i}"] = ["run", "--target", target]
    for i, content in enumerate(BAD_TARGETS_FILES):
        path = tmp / f"targets-{i}.txt"
        path.write_bytes(content)
        cases[f"targets-file-{i}"] = ["run", "--targets-file", str(path), "--ports", "1"]
    outs = {case: tmp / f"{case}.json" for case in cases}
    results = run_batch_subprocess([[*argv, "--out", str(outs[case])] for case, argv in cases.items()],
                                   prefix=ISOLATED, timeout=120)
    return Isolated(dict(zip(cases, results, strict=True)), outs)


def assert_one_line_error(r: CliResult, *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("probe: error: "), r.stderr
    assert "Traceback" not in r.stderr and ESC not in r.stderr and not r.stdout
    for n in needles:
        assert n in lines[0], lines[0]


def test_isolated_namespace_really_has_no_way_out() -> None:
    r = subprocess.run(ISOLATED + ["ip", "-o", "link"], capture_output=True, text=True, check=True)
    links = [ln.split(":")[1].strip() for ln in r.stdout.splitlines()]
    assert links == ["lo"] and "state DOWN" in r.stdout
    r = subprocess.run(ISOLATED + ["ip", "route"], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


@pytest.mark.parametrize("i,name", enumerate(UNRESOLVABLE))
def test_unresolvable_host_name(isolated: Isolated, i: int, name: str) -> None:
    r, out = isolated(f"resolve-{i}")
    assert_one_line_error(r, name, "cannot resolve")
    assert not out.exists()


@pytest.mark.parametrize("i", range(len(MALFORMED_NAMES)))
def test_malformed_host_names_are_refused_without_lookup(isolated: Isolated, i: int) -> None:
    r, out = isolated(f"name-{i}")
    assert_one_line_error(r, "neither an IP address nor a valid host name")
    assert not out.exists()


@pytest.mark.parametrize("i,target,why", [(i, t, w) for i, (t, w) in enumerate(NON_HOSTS)])
def test_non_host_targets_are_refused(isolated: Isolated, i: int, target: str, why: str) -> None:
    r, out = isolated(f"target-{i}")
    assert_one_line_error(r)
    assert why.split()[0] in r.stderr.lower() or why in r.stderr
    assert not out.exists()


LAB_NETS = ipaddress.IPv4Network("10.231.0.0/16")  # test and lab namespaces: their links come and go


def test_network_and_broadcast_of_connected_subnets_are_refused() -> None:
    """Every subnet this host is attached to (read from the kernel; no packet is sent). Subnets of
    other tests' namespaces may vanish between two readings, so only the host's own links count."""
    nets = [n for n in connected_ipv4_networks() if not n.subnet_of(LAB_NETS)]
    assert nets, "this host has no directly connected IPv4 subnet to test against"
    for net in nets:
        if net.prefixlen > 30:
            continue
        for addr, what in ((net.network_address, "network"), (net.broadcast_address, "broadcast")):
            with pytest.raises(UserError, match=what):
                resolve_target(str(addr))  # the rule reads the kernel's table itself
        assert resolve_target(str(net.network_address + 1)) == str(net.network_address + 1)


def test_connected_subnet_rule_with_a_given_table() -> None:
    nets = [ipaddress.IPv4Network("10.231.77.0/30"), ipaddress.IPv4Network("192.0.2.0/24")]
    for bad in ("10.231.77.0", "10.231.77.3", "192.0.2.0", "192.0.2.255"):
        with pytest.raises(UserError):
            resolve_target(bad, networks=nets)
    for good in ("10.231.77.1", "10.231.77.2", "192.0.2.254", "127.0.0.1", "::1"):
        assert resolve_target(good, networks=nets) == good


def test_route_table_parser_skips_gateways_defaults_and_unreachable(tmp_path: Path) -> None:
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"  # default via gateway
        "veth\t004DE70A\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0\n"  # 10.231.77.0/30 connected
        "*\t0000E70A\t00000000\t0201\t0\t0\t4000\t0000FFFF\t0\t0\t0\n"  # unreachable 10.231.0.0/16
        "eth1\t0000A8C0\t0102A8C0\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  # via a gateway
        "junk line\n")
    assert connected_ipv4_networks(str(table)) == [ipaddress.IPv4Network("10.231.77.0/30")]
    assert connected_ipv4_networks(str(tmp_path / "missing")) == []


# -- malformed files -------------------------------------------------------------------------

BAD_PROFILES = {
    "not-yaml.yaml": b"name: [unclosed\n",
    "list.yaml": b"- a\n- b\n",
    "binary.yaml": b"\x00\xff\xfe garbage \x1b[2J",
    "missing.yaml": b"name: x\n",
    "bad-ports.yaml": b"name: x\ndevice_class: general-iot\nschemes: [cls]\ndiscovery: {tcp_ports: '0-70000'}\n"
                      b"checks: []\n",
    "bad-check.yaml": b"name: x\ndevice_class: general-iot\nschemes: [cls]\ndiscovery: {tcp_ports: [22]}\n"
                      b"checks: [nope]\n",
    "escape.yaml": b"name: x\ndevice_class: \"\\e[2J\\e]0;t\\a\"\nschemes: [cls]\ndiscovery: {tcp_ports: [22]}\n"
                   b"checks: []\n",
}


@pytest.mark.parametrize("name", sorted(BAD_PROFILES))
def test_malformed_profile(cli: InProcessCli, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_PROFILES[name])
    r = cli("run", "--target", "127.0.0.1", "--ports", "1", "--profile", str(path), "--out", str(tmp_path / "e.json"))
    assert_one_line_error(r, str(path))
    assert not (tmp_path / "e.json").exists()


BAD_OVERLAYS = {
    "not-yaml.yaml": b"scheme: cls\nclauses: [\n",
    "binary.yaml": b"\x80\x81\x82",
    "no-scheme.yaml": b"clauses: []\n",
    "unknown-clause.yaml": b"scheme: cls\nclauses: [{number: '99.9'}]\n",
    "checks-not-list.yaml": b"scheme: cls\nclauses: [{number: '5.1-1', checks: 5}]\n",
    "clauses-not-list.yaml": b"scheme: cls\nclauses: {a: 1}\n",
}


@pytest.mark.parametrize("name", sorted(BAD_OVERLAYS))
def test_malformed_catalog_overlay(cli: InProcessCli, tmp_path: Path, name: str) -> None:
    d = tmp_path / "cat"
    d.mkdir()
    (d / name).write_bytes(BAD_OVERLAYS[name])
    r = cli("run", "--target", "127.0.0.1", "--ports", "1", "--catalog-dir", str(d), "--out", str(tmp_path / "e.json"))
    assert_one_line_error(r)
    r = cli("plan", "--catalog-dir", str(d))
    assert_one_line_error(r)


@pytest.mark.parametrize("i", range(len(BAD_TARGETS_FILES)))
def test_malformed_targets_file(isolated: Isolated, i: int) -> None:
    r, out = isolated(f"targets-file-{i}")
    assert_one_line_error(r)
    assert not out.exists()


def test_missing_targets_file(cli: InProcessCli, tmp_path: Path) -> None:
    r = cli("run", "--targets-file", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "e.json"))
    assert_one_line_error(r, "cannot read")


@pytest.mark.parametrize("out", ["/proc/probe-test.json", "/sys/probe-test.json", "/etc/hostname/x.json",
                                 "{tmp}/missing-dir/e.json", "{tmp}"])
def test_unwritable_output_is_refused_before_scanning(cli: InProcessCli, tmp_path: Path, out: str) -> None:
    r = cli("run", "--target", "127.0.0.1", "--ports", "1", "--out", out.format(tmp=tmp_path))
    assert_one_line_error(r, "--out")
    assert "scanning" not in r.stderr


@pytest.mark.parametrize("args", [["--max-time", "-1"], ["--timeout", "0"], ["--ports", "0"],
                                  ["--ports", "70000"], ["--max-connections", "x"], ["--profile", "nope"]])
def test_bad_options(cli: InProcessCli, tmp_path: Path, args: list[str]) -> None:
    r = cli("run", "--target", "127.0.0.1", "--out", str(tmp_path / "e.json"), *args)
    assert_one_line_error(r)


@pytest.mark.parametrize("pack", ["/proc/probe-pack.tar", "/sys/probe-pack", "{tmp}/missing/p.tar"])
def test_unwritable_pack_is_refused_before_scanning(cli: InProcessCli, tmp_path: Path, pack: str) -> None:
    r = cli("run", "--target", "127.0.0.1", "--ports", "1", "--out", str(tmp_path / "e.json"),
            "--pack", pack.format(tmp=tmp_path))
    assert_one_line_error(r, "pack")
    assert not (tmp_path / "e.json").exists()
