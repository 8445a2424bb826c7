"""Start-up imports only what the command needs (start-up counts in every per-service timing,
bench/crypto_bench.py): each case runs in a fresh interpreter and lists the modules it loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# third-party packages no parser and no help text needs
HEAVY = ("paramiko", "invoke", "cryptography", "jsonschema", "jinja2", "impacket", "nmap", "defusedxml")
# probe's own implementation modules behind the commands
IMPLEMENTATION = ("probe.engine", "probe.discovery", "probe.context", "probe.lab.manager", "probe.output.signing",
                  "probe.protocols.ssh_kexinit", "probe.protocols.tls_hello", "probe.protocols.x509")

LOADED = "import json, sys; print(json.dumps(sorted(sys.modules)))"


def loaded(code: str, cache: Path) -> set[str]:
    """The modules a fresh interpreter holds after running `code` (which may print; the module list
    is the last line)."""
    env = {**os.environ, "PROBE_CACHE_DIR": str(cache)}
    r = subprocess.run([sys.executable, "-c", code + "\n" + LOADED], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout.strip().splitlines()[-1]))


def heavy_in(mods: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in mods if any(m == n or m.startswith(n + ".") for n in names))


def cli(*argv: str) -> str:
    """Run the CLI in-process the way the `probe` script does, swallowing its exit."""
    return ("import contextlib, io\nfrom probe.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        main({list(argv)!r})\n    except SystemExit:\n        pass\n")


@pytest.mark.parametrize("argv", [(), ("--help",), ("run", "--help"), ("plan", "--help"), ("lab", "--help"),
                                  ("report", "--help"), ("diff", "--help")], ids=" ".join)
def test_parsers_and_help_load_no_implementation(argv: tuple[str, ...], tmp_path: Path) -> None:
    mods = loaded(cli(*argv) if argv else "import probe.cli", tmp_path)
    assert heavy_in(mods, HEAVY) == []
    assert heavy_in(mods, IMPLEMENTATION) == []
    if argv != ("lab", "--help"):  # that help lists the variants: it reads their files (cold cache here)
        assert "yaml" not in mods  # no data file is read to build a parser or its help
    assert not [m for m in mods if m.startswith("probe.checks.")]


def test_lab_help_still_lists_the_variants(tmp_path: Path) -> None:
    env = {**os.environ, "PROBE_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "probe", "lab", "--help"], capture_output=True, text=True,
                         env=env, timeout=60).stdout
    assert "variants:\n  " in out and "weak-gateway (" in out


def test_one_check_on_a_given_service_loads_that_check_only(tmp_path: Path) -> None:
    """The plugin API's path (bench/probe_checks_only.py): no discovery, no other check module, no
    SSH library before the check runs; with the data cache warm, no YAML parser either."""
    code = ("from probe.api import run_single_check\nfrom probe.compliance.catalog import load_catalog\n"
            "from probe.plugins import registry\nfrom probe.compliance.cryptopolicy import load_ssh_policy\n"
            "load_catalog(); load_ssh_policy(None); registry()['ssh_algorithms']\n")
    loaded(code, tmp_path)  # fills the cache
    mods = loaded(code, tmp_path)
    assert [m for m in mods if m.startswith("probe.checks.")] == ["probe.checks.ssh_algorithms"]
    assert heavy_in(mods, ("probe.discovery", "probe.lab", "probe.output.pack", "paramiko", "invoke", "jsonschema",
                           "jinja2", "cryptography.x509", "probe.protocols.x509", "yaml")) == []


def test_paramiko_is_loaded_without_invoke(tmp_path: Path) -> None:
    mods = loaded("from probe.protocols.ssh_auth import load_paramiko\nload_paramiko()\nimport paramiko\n"
                  "assert paramiko.Transport\n", tmp_path)
    assert "paramiko" in mods and "invoke" not in mods


def test_a_plain_run_loads_no_optional_machinery(tmp_path: Path) -> None:
    """`probe run` without --declaration, --sign, --ca-file: no declaration reader, no signing or
    X.509 code; with the data cache warm, no YAML parser. (A closed loopback port: nothing found,
    no check runs; a profile with one check, whose module a run imports because it schedules it.)"""
    profile = tmp_path / "one-check.yaml"
    profile.write_text("name: one-check\ndescription: SSH algorithms only\ndevice_class: general-iot\n"
                       "schemes: [jc-star, cls, uk-psti]\ndiscovery: {tcp_ports: '22', udp_ports: []}\n"
                       "checks: [ssh_algorithms]\n")
    code = ("import contextlib, io, socket\nfrom probe.cli import main\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "    main(['run', '--target', '127.0.0.1', '--ports', str(port), '--udp-ports', 'none', '--no-nmap',\n"
            f"          '--no-credentials', '--scan-method', 'connect', '--quiet', '--profile', {str(profile)!r},\n"
            f"          '--out', {str(tmp_path / 'ev.json')!r}])\n")
    loaded(code, tmp_path / "cache")  # fills the cache
    mods = loaded(code, tmp_path / "cache")
    assert (tmp_path / "ev.json").exists()
    assert heavy_in(mods, ("yaml", "cryptography", "paramiko", "jsonschema", "jinja2", "probe.compliance.declaration",
                           "probe.output.signing", "probe.protocols.x509", "probe.services.declared_urls")) == []
