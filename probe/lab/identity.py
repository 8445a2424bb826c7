"""Per-device identity: accounts, resolver and login shell, without touching the host's /etc.

`ip netns exec NS` bind-mounts every file in /etc/netns/NS/ over /etc/ for what it starts, so the
daemons of a lab device see the device's passwd/shadow/group/shells/hosts/resolv.conf. Only the
network is namespaced, though: a successful login would be a real login on this machine. So every
lab account (root included) gets the lab's fake shell, a bash script that only prints a prompt and
"not found" and never runs anything, and the host's system users keep /usr/sbin/nologin.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from probe.lab.sysexec import run

NETNS_ETC = Path("/etc/netns")
NOLOGIN = "/usr/sbin/nologin"
FIRST_LAB_UID = 42300  # well above normal host users; lab accounts map to these real UIDs


@dataclass(frozen=True)
class Account:
    user: str
    password: str  # plain text: the lab's credentials are test data, recorded in the state file
    uid: int


def crypt_sha512(password: str) -> str:
    """A $6$ hash for shadow, made by openssl (Python 3.13 drops the crypt module)."""
    salt = secrets.token_hex(8)
    out = run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=password.encode() + b"\n")
    return out.stdout.decode().strip()


def _host_system_lines(path: str) -> list[list[str]]:
    """The host's system entries (id 1-999, and 65534 nobody), so daemons find their users."""
    rows = []
    for line in Path(path).read_text().splitlines():
        parts = line.split(":")
        if len(parts) < 4 or not parts[2].isdigit():
            continue
        ident = int(parts[2])
        if 0 < ident < 1000 or ident == 65534:
            rows.append(parts)
    return rows


def write_identity(namespace: str, accounts: Sequence[Account], shell: Path, home: Path,
                   hostname: str, address: str) -> Path:
    """Write /etc/netns/<ns>/{passwd,shadow,group,shells,hosts,resolv.conf,hostname}."""
    etc = NETNS_ETC / namespace
    etc.mkdir(parents=True, exist_ok=True)
    passwd, shadow = [], []
    users = {a.user for a in accounts}
    if "root" not in users:  # root stays in passwd (daemons need it) but cannot log in
        passwd.append(f"root:x:0:0:root:/root:{NOLOGIN}")
        shadow.append("root:!:19000:0:99999:7:::")
    for acct in accounts:
        gid = 0 if acct.uid == 0 else acct.uid
        passwd.append(f"{acct.user}:x:{acct.uid}:{gid}:{acct.user}:{home}:{shell}")
        shadow.append(f"{acct.user}:{crypt_sha512(acct.password)}:19000:0:99999:7:::")
    for parts in _host_system_lines("/etc/passwd"):
        if parts[0] in users:
            continue
        parts[1], parts[6] = "x", NOLOGIN
        passwd.append(":".join(parts))
        shadow.append(f"{parts[0]}:*:19000:0:99999:7:::")
    groups = ["root:x:0:"] + [f"{a.user}:x:{a.uid}:" for a in accounts if a.uid != 0]
    for parts in _host_system_lines("/etc/group"):
        if parts[0] not in users:
            groups.append(f"{parts[0]}:x:{parts[2]}:")
    files = {
        "passwd": "\n".join(passwd) + "\n",
        "shadow": "\n".join(shadow) + "\n",
        "group": "\n".join(groups) + "\n",
        "shells": f"{shell}\n",
        "hosts": f"127.0.0.1\tlocalhost\n{address}\t{hostname}\n",
        "resolv.conf": "nameserver 127.0.0.1\n",
        "hostname": f"{hostname}\n",
        "motd": "",  # busybox login would otherwise print the host's Debian motd
    }
    for name, text in files.items():
        path = etc / name
        path.write_text(text)
        path.chmod(0o640 if name == "shadow" else 0o644)
    return etc


def remove_identity(namespace: str) -> None:
    shutil.rmtree(NETNS_ETC / namespace, ignore_errors=True)


def write_fake_shell(template: Path, dest: Path, hostname: str) -> Path:
    """Render the fake login shell for one device (prompt user@hostname)."""
    text = Template(template.read_text()).safe_substitute(hostname=hostname)
    dest.write_text(text)
    dest.chmod(0o755)
    return dest
