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
import subprocess
import sys
import time
from pathlib import Path

import pytest

from probe.hostile.servers import ESCAPES, MARKUP, UPNP_DESCRIPTION
from probe.output.evidence import validate
from probe.output.terminal import Progress, clause_table, safe

from .conftest import ESC, REPO, free_port, run_probe

HOSTILE = MARKUP + ESCAPES
# what probe itself may emit on a tty: colours, and "erase line" for its progress redraw
OWN_ESCAPES = re.compile(r"\x1b\[(?:\d{1,2}m|K)")


@pytest.fixture
def hostile_daemons(daemons, tmp_path: Path) -> dict[str, int]:
    ports = {k: free_port() for k in ("ssh", "http", "telnet", "ftp")}
    ssh_dir = tmp_path / "ssh"
    ssh_dir.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ssh_dir / "hk")], check=True)
    (ssh_dir / "sshd.conf").write_bytes(
        f"Port {ports['ssh']}\nListenAddress 127.0.0.1\nHostKey {ssh_dir / 'hk'}\nPidFile none\nUsePAM no\n"
        .encode() + b"VersionAddendum " + HOSTILE.replace(b"\x07", b"") + b"\n")
    daemons.start(["/usr/sbin/sshd", "-D", "-e", "-f", str(ssh_dir / "sshd.conf")], ports["ssh"])

    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_bytes(b"<html><head><title>" + HOSTILE + b"</title></head><body>" + MARKUP +
                                     b"</body></html>")
    (www / "rootDesc.xml").write_bytes(UPNP_DESCRIPTION)
    (tmp_path / "lighttpd.conf").write_bytes(
        f'server.document-root = "{www}"\nserver.bind = "127.0.0.1"\nserver.port = {ports["http"]}\n'
        'index-file.names = ("index.html")\nmimetype.assign = (".html" => "text/html", ".xml" => "text/xml")\n'
        .encode() + b'server.tag = "UPnP/1.0 ' + HOSTILE.replace(b'"', b"'") + b'"\n')
    daemons.start(["lighttpd", "-D", "-f", str(tmp_path / "lighttpd.conf")], ports["http"])

    (tmp_path / "issue").write_bytes(b"Welcome " + HOSTILE + b"\n")
    daemons.start(["busybox", "telnetd", "-F", "-p", str(ports["telnet"]), "-b", "127.0.0.1",
                   "-f", str(tmp_path / "issue"), "-l", "/bin/false"], ports["telnet"])

    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "banner").write_bytes(b"Hello " + HOSTILE + b"\n")
    (tmp_path / "vsftpd.conf").write_text("\n".join([
        "listen=YES", "listen_ipv6=NO", "background=NO", "listen_address=127.0.0.1", f"listen_port={ports['ftp']}",
        "anonymous_enable=NO", "local_enable=YES", "write_enable=NO", f"secure_chroot_dir={empty}",
        "seccomp_sandbox=NO", "pasv_enable=NO", "run_as_launching_user=NO", "xferlog_enable=NO",
        f"banner_file={tmp_path / 'banner'}"]) + "\n")
    daemons.start(["vsftpd", str(tmp_path / "vsftpd.conf")], ports["ftp"])
    return ports


def _ports(p: dict[str, int]) -> str:
    return ",".join(str(v) for v in p.values())


def test_real_daemons_with_hostile_text(hostile_daemons: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "ev.json"
    r = run_probe(out, "--target", "127.0.0.1", "--ports", _ports(hostile_daemons), "--no-nmap", "--max-time", "60",
                  "--credential-budget", "2", timeout=120)
    assert r.doc is not None, r.stderr
    validate(r.doc)
    assert r.elapsed < 80
    assert ESC not in r.stdout + r.stderr and "\x07" not in r.stdout + r.stderr
    protos = {s["port"]: s["protocol"] for s in r.doc["services"]}
    assert protos[hostile_daemons["ssh"]] == "ssh" and protos[hostile_daemons["telnet"]] == "telnet"
    assert protos[hostile_daemons["ftp"]] == "ftp" and protos[hostile_daemons["http"]] in ("http", "upnp")
    # the hostile bytes are in the evidence verbatim (e.g. the SSH banner, the Server header)
    contents = "".join(a["content"] for a in r.doc["artefacts"] if a["encoding"] == "utf-8")
    assert "\x1b]52;c;" in contents and "<script>alert('probe')</script>" in contents
    # real OpenSSH with a hostile banner still gets its algorithms audited: the banner is data, not a problem
    ssh = [f for f in r.doc["findings"] if f["port"] == hostile_daemons["ssh"] and f["check_id"] == "ssh_algorithms"]
    assert ssh and ssh[0]["status"] in ("PASS", "FAIL"), ssh
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
    assert os.waitstatus_to_exitcode(status) in (1, 4), text[-2000:]
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
