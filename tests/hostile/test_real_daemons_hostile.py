"""Real daemons configured to carry hostile text, and the terminal they must not drive.

OpenSSH (`VersionAddendum`), lighttpd (`server.tag`, a page title, a UPnP description),
busybox telnetd (`-f` issue file) and vsftpd (`banner_file`) all send markup and terminal escape
sequences verbatim. probe must keep them verbatim in the evidence and print none of them raw, on a
pipe and on a real terminal (pty), where probe itself uses colours and line redraws.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.hostile.servers import ESCAPES, MARKUP, UPNP_DESCRIPTION
from probe.output.evidence import validate
from probe.output.terminal import Progress, clause_table, safe
from tests.helpers.cli import REPO
from tests.helpers.daemons import LocalDaemons
from tests.helpers.probe_run import run_probe

ESC = "\x1b"
HOSTILE = MARKUP + ESCAPES
# what probe itself may emit on a tty: colours, and "erase line" for its progress redraw
pytestmark = pytest.mark.timeout(180)  # two full runs, each bounded at 120 s by the test itself
OWN_ESCAPES = re.compile(r"\x1b\[(?:\d{1,2}m|K)")


@pytest.fixture(scope="module")
def hostile_daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """OpenSSH, lighttpd, busybox telnetd and vsftpd, each sending hostile text; shared by the
    module's two runs (one on a pipe, one on a pty), which only read from them."""
    with LocalDaemons(tmp_path_factory.mktemp("hostile-daemons")) as daemons:
        yield {
            # the banner may not carry BEL: OpenSSH would refuse the config line
            "ssh": daemons.sshd([b"VersionAddendum " + HOSTILE.replace(b"\x07", b"")], [("ed", "ed25519")]),
            "http": daemons.lighttpd({"/index.html": b"<html><head><title>" + HOSTILE + b"</title></head><body>"
                                                     + MARKUP + b"</body></html>",
                                      "/rootDesc.xml": UPNP_DESCRIPTION},
                                     tag=b"UPnP/1.0 " + HOSTILE.replace(b'"', b"'")),
            "telnet": daemons.telnetd(issue=b"Welcome " + HOSTILE + b"\n"),
            "ftp": daemons.vsftpd(anonymous=False, banner=b"Hello " + HOSTILE + b"\n"),
        }


def _ports(p: dict[str, int]) -> str:
    return ",".join(str(v) for v in p.values())


def test_real_daemons_with_hostile_text(hostile_daemons: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "ev.json"
    r = run_probe(out, "--target", "127.0.0.1", "--ports", _ports(hostile_daemons), "--no-nmap", "--max-time", "60",
                  "--credential-budget", "2", timeout=120)
    assert r.doc is not None, r.stderr
    validate(r.doc)
    assert r.returncode == 1, r.stderr  # complete; the FTP and telnet logins are cleartext: FAIL
    assert r.elapsed < 80
    assert ESC not in r.stdout + r.stderr and "\x07" not in r.stdout + r.stderr
    protos = {s["port"]: s["protocol"] for s in r.doc["services"]}
    assert protos[hostile_daemons["ssh"]] == "ssh" and protos[hostile_daemons["telnet"]] == "telnet"
    # lighttpd's Server header says "UPnP/1.0 ..." (the hostile tag): named for that, despite the markup after it
    assert protos[hostile_daemons["ftp"]] == "ftp" and protos[hostile_daemons["http"]] == "upnp"
    # the hostile bytes are in the evidence verbatim (e.g. the SSH banner, the Server header)
    contents = "".join(a["content"] for a in r.doc["artefacts"] if a["encoding"] == "utf-8")
    assert "\x1b]52;c;" in contents and "<script>alert('probe')</script>" in contents
    # real OpenSSH with a hostile banner still gets its algorithms audited: the banner is data, not a
    # problem, and Debian's OpenSSH defaults with an Ed25519 host key meet the built-in policy
    ssh = [f for f in r.doc["findings"] if f["port"] == hostile_daemons["ssh"] and f["check_id"] == "ssh_algorithms"]
    assert [f["status"] for f in ssh] == ["PASS"], ssh
    ftp = [f for f in r.doc["findings"] if f["port"] == hostile_daemons["ftp"]
           and f["check_id"] == "cleartext_authentication"]
    assert ftp and ftp[0]["status"] == "FAIL" and ESC not in ftp[0]["summary"]


def test_terminal_on_a_pty_shows_no_device_escape(hostile_daemons: dict[str, int], tmp_path: Path) -> None:
    """On a real terminal probe draws progress and colours; only those escapes may appear."""
    out = tmp_path / "ev.json"
    pid, fd = pty.fork()
    if pid == 0:  # child: probe with stdout and stderr on the pty
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "probe", "run", "--target", "127.0.0.1", "--ports",
                                  _ports(hostile_daemons), "--no-nmap", "--max-time", "60", "--credential-budget",
                                  "2", "--out", str(out)])
    chunks, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 1, text[-2000:]  # the same run as on a pipe: FAIL
    assert "\x1b[" in text, "expected probe's own colours on a tty"
    leftovers = OWN_ESCAPES.sub("", text)
    assert ESC not in leftovers and "\x9b" not in leftovers and "\x07" not in leftovers, \
        repr(leftovers[max(0, leftovers.find(ESC) - 80):leftovers.find(ESC) + 80])
    assert json.loads(out.read_text())["run"]["complete"] is True


def test_progress_and_table_neutralise_hostile_strings(tmp_path: Path) -> None:
    """Unit level: every field the terminal code prints from a document or event is made safe."""
    evil = HOSTILE.decode("utf-8", "replace")
    out = tmp_path / "t.txt"
    with out.open("w") as stream:
        progress = Progress(stream=stream)
        progress("target-start", {"host": "127.0.0.1"})
        progress("discovered", {"host": "127.0.0.1", "services": [evil]})
        doc = {"clauses": [{"id": "cls:5.1-1", "verdict": "FAIL", "basis": "tested", "reason": evil,
                            "target": "127.0.0.1"}],
               "targets": ["127.0.0.1"], "summary": {k: 0 for k in ("PASS", "FAIL", "INCONCLUSIVE",
                                                                       "NOT_APPLICABLE", "MANUAL")},
               "run": {"complete": False, "incomplete_reasons": [evil]}}
        clause_table(doc, stream=stream, colour=False)
    text = out.read_text()
    assert ESC not in text and "\x07" not in text and "\x9b" not in text
    assert "\\x1b]52" in text or "\\x1b[2J" in text  # shown, not obeyed
    assert ESC not in safe(evil) and "\n" not in safe("a\nb")

