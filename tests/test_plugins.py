"""The plugin loader: built-in metadata contract, and third-party checks through entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from probe.errors import UserError
from probe.plugins import CheckMetadata, registry


def test_builtin_checks_have_matching_metadata() -> None:
    reg = registry()
    assert {"service_inventory", "cleartext_authentication"} <= set(reg)
    for cid, cls in reg.items():
        assert cls.check_id == cid == cls.metadata.id
        assert cls.metadata.title and cls.metadata.description


def test_builtin_dependencies_name_real_checks() -> None:
    reg = registry()
    assert reg["cleartext_authentication"].metadata.after == ("default_credentials",)
    assert all(a in reg for cls in reg.values() for a in cls.metadata.after)


@pytest.mark.parametrize("patch,needle", [
    ({"id": "Bad-ID"}, "lower_snake_case"),
    ({"scope": "galaxy"}, "scope"),
    ({"intrusiveness": "gentle"}, "intrusiveness"),
    ({"services": []}, "service-scoped"),
    ({"after": "default_credentials"}, "after must be a list"),
    ({"after": ["Not An Id"]}, "after must be a list"),
    ({"scope": "device", "after": ["default_credentials"]}, "only a service-scoped check"),
])
def test_metadata_is_validated(patch, needle) -> None:
    base = {"id": "ok_check", "title": "t", "description": "d", "scope": "service", "services": ["ssh"],
            "intrusiveness": "safe"}
    with pytest.raises(UserError, match=needle):
        CheckMetadata.from_dict({**base, **patch}, where="x", source="test")


def _installed(where: Path, name: str, entry_point: str) -> dict[str, str]:
    """A distribution `name` (version 1.0) installed in `where`, registering `entry_point` in the
    'probe.checks' group; returns the environment that puts it on a child's sys.path."""
    dist = where / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[probe.checks]\n{entry_point}\n")
    return {**os.environ, "PYTHONPATH": str(where)}


def test_third_party_check_loads_through_entry_point(tmp_path: Path) -> None:
    """A real distribution on sys.path registering a check in the 'probe.checks' group."""
    (tmp_path / "acme_checks.py").write_text(
        "from probe.plugins import Check\n"
        "from probe.models import Status\n"
        "class AcmeBanner(Check):\n"
        "    check_id = 'acme_banner'\n"
        "    metadata = {'id': 'acme_banner', 'title': 'ACME banner policy', 'description': 'demo',\n"
        "                'scope': 'device', 'services': [], 'intrusiveness': 'safe'}\n"
        "    def run(self, ctx):\n"
        "        yield ctx.finding(Status.PASS, 'ok', 'ok')\n")
    env = _installed(tmp_path, "acme-checks", "acme_banner = acme_checks:AcmeBanner")
    r = subprocess.run([sys.executable, "-m", "probe", "checks", "--json"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    rows = {row["id"]: row for row in json.loads(r.stdout)}
    assert rows["acme_banner"]["source"] == "acme-checks"
    assert "service_inventory" in rows


def test_metadata_is_read_without_importing_the_check() -> None:
    """Listings (probe checks, probe plan) read the YAML only; the class, when asked for, carries
    the same metadata."""
    code = ("import sys\nfrom probe.plugins import registry\nr = registry()\n"
            "metas = {cid: r.metadata(cid) for cid in r}\n"
            "print(sorted(m for m in sys.modules if m.startswith('probe.checks.')))\n"
            "assert r['ssh_algorithms'].metadata == metas['ssh_algorithms']\n"
            "print(sorted(m for m in sys.modules if m.startswith('probe.checks.')))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["[]", "['probe.checks.ssh_algorithms']"]


def test_third_party_check_cannot_take_a_builtin_id(tmp_path: Path) -> None:
    (tmp_path / "squatter.py").write_text(
        "from probe.plugins import Check\n"
        "class Squatter(Check):\n"
        "    check_id = 'ssh_algorithms'\n"
        "    metadata = {'id': 'ssh_algorithms', 'title': 't', 'description': 'd', 'scope': 'device',\n"
        "                'services': [], 'intrusiveness': 'safe'}\n")
    env = _installed(tmp_path, "squatter", "ssh_algorithms = squatter:Squatter")
    r = subprocess.run([sys.executable, "-m", "probe", "checks"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "check id 'ssh_algorithms' is already taken" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
