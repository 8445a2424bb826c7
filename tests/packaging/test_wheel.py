"""probe installed the way users install it: a built wheel in a fresh virtualenv, not `-e`.

An editable install resolves every module from the source tree, so a package missing from the
wheel goes unnoticed until a user's pipx install crashes. This test builds the wheel, checks it
carries every Python module and data file of the tree, installs it into a new venv and runs the
commands that need no root from outside the repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# source folder -> where it lives inside the installed package
pytestmark = pytest.mark.timeout(900)  # pip builds the wheel and installs it (each bounded at 300 s)
MAPPED = {"probe": "probe", "checks": "probe/checks", "reports": "probe/reports", "profiles": "probe/builtin_profiles"}


def _tracked() -> list[str]:
    """The files git tracks: what a fresh clone holds."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True, timeout=60).stdout
    return [rel for rel in out.decode().split("\0") if rel and (REPO / rel).is_file()]


def _tree_files() -> set[str]:
    """Every file the tree ships, as its path inside the wheel."""
    out: set[str] = set()
    for rel in _tracked():
        folder, _, rest = rel.partition("/")
        if folder in MAPPED and rest:
            out.add(f"{MAPPED[folder]}/{rest}")
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # From the files git tracks, copied elsewhere: what a fresh clone holds (no stray local file can
    # make the test pass), and setuptools' in-tree build/ folder is not left in the repository.
    src = tmp_path_factory.mktemp("src")
    for rel in _tracked():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    # built as `pip install .` builds it: in pip's isolated build environment
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "-w", str(out), str(src)],
                   check=True, capture_output=True, timeout=300)
    wheels = list(out.glob("probe_iot-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_carries_every_module_and_data_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        inside = {n for n in zf.namelist() if not n.startswith("probe_iot-")}
    missing = sorted(_tree_files() - inside)
    assert not missing, f"files of the tree missing from the wheel: {missing}"


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    # --system-site-packages gives the venv the dependencies without an index; the venv's own
    # site-packages come first on sys.path, and the test below proves probe is imported from there.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(root)], check=True, timeout=120)
    subprocess.run([str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return root


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "probe"), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_installed_probe_is_the_wheel(venv: Path, tmp_path: Path) -> None:
    r = subprocess.run([str(venv / "bin" / "python"), "-c", "import probe, probe.checks, probe.reports;"
                        "print(probe.__file__); print(probe.checks.__file__); print(probe.reports.__file__)"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    for line in r.stdout.split():
        assert Path(line).is_relative_to(venv), f"{line} is not from the venv (editable install leaking in?)"


@pytest.mark.parametrize("argv, expect", [
    (["plan", "--profile", "home-gateway", "--holding", "jc-star", "--apply-for", "cls"], "cls:5.3-7"),
    (["checks"], "ssh_algorithms"),
    (["lab", "status"], ""),
])
def test_installed_commands_start(venv: Path, tmp_path: Path, argv: list[str], expect: str) -> None:
    r = _run(venv, *argv, cwd=tmp_path)
    assert r.returncode == 0, f"probe {' '.join(argv)}: exit {r.returncode}\n{r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr
    assert expect in r.stdout


def test_installed_schema_is_the_shipped_schema(venv: Path, tmp_path: Path) -> None:
    r = _run(venv, "schema", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads((REPO / "probe" / "schema" / "evidence.schema.json").read_text())
