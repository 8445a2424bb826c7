"""The sweep's pace: it backs off on a device that drops probes above a rate, and --max-rate holds.

The devices are lab namespaces whose nftables rules do the measuring: a `limit rate over` rule drops
(or only counts) SYNs beyond a rate, and counters say how many arrived. Nothing here times the
sweep: speed is measured in bench/sweep_bench.py. The rate-control policy itself (slow start, cuts,
ceiling, floor) is also checked as arithmetic, without a network.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from probe.compliance.profile import builtin_profiles, load_profile, parse_ports, port_sets
from probe.discovery.syn_scan import MIN_RATE, START_RATE, RateControl, syn_stats, syn_sweep
from probe.discovery.tcp_connect import sweep
from probe.plugins import registry
from tests.helpers.cli import InProcessCli
from tests.helpers.netns import NetNS, available

needs_root = pytest.mark.skipif(available() is not None, reason=str(available()))

OPEN = (2222, 8080, 9999)


def _profile(tmp_path: Path) -> Path:
    """A profile with one check that sends nothing more: these runs are about the sweep."""
    p = tmp_path / "sweep-only.yaml"
    p.write_text("name: sweep-only\ndevice_class: general-iot\nschemes: [cls]\n"
                 "discovery: {tcp_ports: all, udp_ports: []}\nchecks: [service_inventory]\n")
    return p


def _counters(ns: NetNS, table: str) -> dict[str, int]:
    """Packets counted by each rule of `table`, by the rule's comment."""
    text = ns.exec(["nft", "list", "table", "inet", table]).stdout
    rule = re.compile(r'counter packets (\d+) bytes \d+.*comment "([^"]+)"')
    return {m.group(2): int(m.group(1)) for m in rule.finditer(text)}


def _syn_meter(ns: NetNS, rate: int, burst: int, *, drop: bool) -> None:
    """Count every SYN that arrives ("all") and those above `rate`/s ("over"); drop those if `drop`."""
    verdict = " drop" if drop else ""
    ns.nft("table inet pmeter {\n chain input {\n  type filter hook input priority -10; policy accept;\n"
           f"  tcp flags & (syn|ack) == syn counter comment \"all\"\n"
           f"  tcp flags & (syn|ack) == syn limit rate over {rate}/second burst {burst} packets counter"
           f"{verdict} comment \"over\"\n }}\n}}\n")


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One namespace with three listeners; every other port answers RST. Tests add their own meter."""
    if available() is not None:
        pytest.skip(str(available()))
    tmp = tmp_path_factory.mktemp("www")
    with NetNS(tag="r") as ns:
        for port in OPEN:
            ns.spawn([sys.executable, "-m", "http.server", "--bind", ns.ip, str(port)], cwd=str(tmp))
        for port in OPEN:
            ns.wait_tcp(port)
        yield ns


@pytest.fixture
def meter(device: NetNS):  # type: ignore[no-untyped-def]
    yield device
    device.exec(["nft", "delete", "table", "inet", "pmeter"], check=False)


# -- the policy, as arithmetic ---------------------------------------------------------------------

def test_rate_control_starts_moderate_grows_and_never_passes_the_ceiling() -> None:
    ctl = RateControl(ceiling=30_000)
    assert ctl.rate == START_RATE
    t = 0.0
    ctl.tick(t, sending=True)
    seen = []
    for _ in range(20):
        t += 0.06
        ctl.tick(t, sending=True)
        seen.append(ctl.rate)
    assert seen[0] == 2 * START_RATE  # slow start: doubles per interval without a loss signal
    assert max(seen) == 30_000 and all(r <= 30_000 for r in seen)
    low = RateControl(ceiling=800)
    assert low.rate == 800 and low.floor == 800  # a ceiling below the start and the floor wins over both


def test_rate_control_halves_once_per_episode_and_stops_at_the_floor() -> None:
    ctl = RateControl(ceiling=30_000, start=16_000)
    assert ctl.on_loss(first_sent=1.0, now=1.2)
    assert ctl.rate == 8_000 and ctl.ssthresh == 8_000
    # probes sent before that cut were lost in the same episode: no second cut for them
    assert not ctl.on_loss(first_sent=1.1, now=1.25)
    assert ctl.rate == 8_000
    for i in range(20):  # a device that keeps losing probes sent after each cut
        ctl.on_loss(first_sent=2.0 + i, now=2.5 + i)
    assert ctl.rate == MIN_RATE
    # above ssthresh growth is gentle (an eighth per interval), not doubling
    ctl = RateControl(ceiling=30_000, start=8_000)
    ctl.on_loss(first_sent=0.5, now=1.0)
    ctl.tick(1.0, sending=True)
    ctl.tick(1.1, sending=True)  # the interval that holds the cut does not grow
    ctl.tick(1.2, sending=True)
    assert ctl.rate == 4_000 * 9 / 8


def test_rate_control_cuts_when_round_trips_grow() -> None:
    ctl = RateControl(ceiling=30_000, start=10_000)
    ctl.tick(0.0, sending=True)
    for _ in range(10):
        ctl.on_rtt(0.001)
    ctl.tick(0.06, sending=True)
    assert ctl.rate == 20_000  # steady 1 ms: grows
    for _ in range(10):
        ctl.on_rtt(0.080)  # a queue builds up in front of the device
    ctl.tick(0.3, sending=True)  # (an interval lasts at least two smoothed RTTs)
    assert ctl.rate == 15_000 and ctl.cuts_rtt == 1


# -- against devices ---------------------------------------------------------------------------------

@needs_root
def test_sweep_backs_off_on_a_rate_limiting_device_and_finds_every_port(meter: NetNS) -> None:
    """The device drops every SYN above 3,000/s. Starting at 5,000/s and growing, the sweep loses
    probes, sees their retransmissions answered, cuts its rate, retries more, and ends with every
    port classified as it is: the three listeners open, every other port closed, none filtered."""
    _syn_meter(meter, 3000, 100, drop=True)
    ports = range(1, 12001)
    res = syn_sweep(meter.ip, ports)
    counted = _counters(meter, "pmeter")
    assert counted["over"] > 0  # the device really dropped probes
    assert res.open_ports == list(OPEN)
    assert res.closed == len(ports) - len(OPEN) and res.filtered == 0 and res.complete
    stats = syn_stats(res)
    assert stats["answered_after_retransmit"] > 0 and stats["rate_cuts"] > 0
    assert stats["retries_reached"] > stats["retries"]  # retransmissions were answered: more were allowed
    assert stats["final_rate_pps"] < stats["rate_reached_pps"]
    assert counted["all"] == res.packets_sent  # every probe counted reached the device; nothing else did


@needs_root
def test_max_rate_holds_on_the_wire(meter: NetNS, cli: InProcessCli, tmp_path: Path) -> None:
    """`probe run --max-rate 1500`: the device counts SYNs above 1,650/s (10 % margin, a burst of
    128): none. The same meter with the default ceiling does count some, so it can see a breach."""
    _syn_meter(meter, 1650, 128, drop=False)
    out = tmp_path / "ev.json"
    r = cli("run", "--target", meter.ip, "--ports", "1-3000", "--max-rate", "1500", "--udp-ports", "none",
            "--no-nmap", "--no-credentials", "--profile", str(_profile(tmp_path)), "--out", str(out), "--quiet")
    assert r.returncode in (0, 1, 4), r.stderr
    doc = json.loads(out.read_text())
    stats = doc["discovery"][meter.ip]["stats"]
    counted = _counters(meter, "pmeter")
    assert counted["all"] >= stats["packets_sent"] >= 3000  # (+ identification's connects to port 2222)
    assert counted["over"] == 0, f"{counted['over']} SYNs above the --max-rate"
    assert doc["run"]["options"]["discovery"]["max_rate"] == 1500
    assert stats["max_rate_pps"] == 1500 and stats["start_rate_pps"] == 1500
    assert stats["sweep_method"] == "syn-scan" and stats["open"] == 1  # 2222 (8080, 9999: not asked)

    meter.exec(["nft", "reset", "counters", "table", "inet", "pmeter"])
    res = syn_sweep(meter.ip, range(1, 3001))  # default ceiling, starting at 5,000/s
    assert _counters(meter, "pmeter")["over"] > 0 and res.open_ports == [2222]


@needs_root
def test_connect_sweep_keeps_to_max_rate(meter: NetNS) -> None:
    """The non-root fallback: connects started per second stay under --max-rate too."""
    _syn_meter(meter, 440, 20, drop=False)
    res = sweep(meter.ip, [*range(1, 598), *OPEN], timeout=1.0, concurrency=256, max_rate=400)
    counted = _counters(meter, "pmeter")
    assert res.open_ports == list(OPEN) and res.closed == 600 - len(OPEN)
    assert counted["all"] == 600 and counted["over"] == 0


@pytest.mark.parametrize("value", ["0", "-5", "2000000"])
def test_bad_max_rate_is_one_line_usage_error(cli: InProcessCli, value: str, tmp_path: Path) -> None:
    r = cli("run", "--target", "127.0.0.1", "--ports", "1", "--max-rate", value, "--out", str(tmp_path / "e.json"))
    assert r.returncode == 2 and "--max-rate" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# -- which ports -------------------------------------------------------------------------------------

def test_every_builtin_profile_sweeps_every_tcp_port() -> None:
    known = set(registry())
    for name in builtin_profiles():
        assert load_profile(name, known).tcp_ports == tuple(range(1, 65536)), name


def test_named_port_set_and_its_errors() -> None:
    top = parse_ports("top", "--ports")
    assert top == parse_ports(port_sets()["top"], "x") and 1000 < len(top) < 1200
    assert {22, 80, 443, 1883, 7547, 8443, 49152}.issubset(top)
    from probe.errors import UserError
    with pytest.raises(UserError, match="neither a port list nor a port set"):
        parse_ports("tpo", "--ports")


@needs_root
def test_ports_top_is_recorded_in_the_evidence(device: NetNS, cli: InProcessCli, tmp_path: Path) -> None:
    out = tmp_path / "ev.json"
    r = cli("run", "--target", device.ip, "--ports", "top", "--udp-ports", "none", "--no-nmap", "--no-credentials",
            "--profile", str(_profile(tmp_path)), "--out", str(out), "--quiet")
    assert r.returncode in (0, 1, 4), r.stderr
    doc = json.loads(out.read_text())
    opts = doc["run"]["options"]["discovery"]
    assert opts["tcp_ports_name"] == "top" and opts["tcp_ports"] == port_sets()["top"]
    stats = doc["discovery"][device.ip]["stats"]
    assert stats["tcp_ports_requested"] == stats["tcp_ports_scanned"] == len(parse_ports("top", "x"))
    assert stats["open"] == 1  # 8080 is in the set; 2222 and 9999 are not
