"""Skip the daemon tests cleanly where the lab packages or root are missing."""

from __future__ import annotations

import os
import shutil

import pytest

NEEDED = ("dropbear", "busybox", "vsftpd", "lighttpd", "mosquitto", "snmpd", "unshare", "sshd", "smbd", "socat")


@pytest.fixture(scope="session")
def lab_tools() -> None:
    missing = [t for t in NEEDED if not shutil.which(t) and not os.path.exists(f"/usr/sbin/{t}")]
    if missing or os.geteuid() != 0:
        pytest.skip(f"needs root and scripts/setup-system.sh packages (missing: {', '.join(missing) or 'root'})")
