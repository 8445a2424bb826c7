"""The fixtures every test module can use; tests/conftest.py registers this module (pytest_plugins).

Fixtures own what has to be cleaned up (daemons, captured CLI output, certificate directories);
plain functions and constants are imported from their helper module by absolute name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.cli import InProcessCli
from tests.helpers.daemons import LEGACY_ONLY_SSH, LEGACY_ONLY_SSH_KEYS, LEGACY_SSH, LEGACY_SSH_KEYS, LocalDaemons
from tests.helpers.pki import TestPKI, make_test_pki


@pytest.fixture
def daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDaemons]:
    """Loopback daemons for one test, all stopped when it ends."""
    with LocalDaemons(tmp_path_factory.mktemp("daemons")) as group:
        yield group


@pytest.fixture(scope="session")
def session_daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDaemons]:
    """Loopback daemons that many tests may share (read-only use only), stopped at the end."""
    with LocalDaemons(tmp_path_factory.mktemp("session-daemons")) as group:
        yield group


@pytest.fixture(scope="session")
def legacy_sshd(session_daemons: LocalDaemons) -> int:
    """The one OpenSSH with SHA-1 key exchange, CBC, MD5 MACs, ssh-rsa/ssh-dss and RSA-1024, DSA,
    ECDSA and Ed25519 host keys added to its modern defaults."""
    return session_daemons.sshd(LEGACY_SSH, LEGACY_SSH_KEYS)


@pytest.fixture(scope="session")
def legacy_only_sshd(session_daemons: LocalDaemons) -> int:
    """The one OpenSSH that speaks only SHA-1 key exchange with an ssh-rsa key (paramiko 5 cannot)."""
    return session_daemons.sshd(LEGACY_ONLY_SSH, LEGACY_ONLY_SSH_KEYS)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    """The session's test CA and its good and bad server certificates."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> InProcessCli:
    """`cli("run", "--target", ...)`: the probe command in this process, exit code and output."""
    return InProcessCli(capsys, monkeypatch)
