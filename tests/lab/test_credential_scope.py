"""--credential-scope against the weak gateway's real daemons, where two system accounts keep
their defaults (admin/admin, root/root on SSH, telnet, FTP) and the web UI has admin/admin.

"first" (the default) must stop a service at its first proven login and say so; "accounts" must
find every default credential the lab set on every login service, each with its own proof.
The expected accounts come from what the lab published, not from a list in this file; for FTP an
independent client (ftplib) establishes which of them vsftpd accepts (it refuses root).

The six "accounts" scans run at once, one per login service (as `probe run` runs a device's
services side by side): each spends its time in the device's delays after a failed login, so
together they take as long as the slowest service, and each test judges its own scan.
"""

from __future__ import annotations

import ftplib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from probe.engine import run_single_check
from probe.lab import LabDevice
from probe.models import Finding, Service, Status
from probe.options import CredentialOptions, CredentialScope, SafetyOptions, ScanOptions

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]  # accounts scope waits out the devices' login delays

# login services of the weak gateway -> which of the lab's published credentials apply there
LOGIN_SERVICES = [(22, "ssh", "system"), (2222, "ssh", "system"), (23, "telnet", "system"), (21, "ftp", "system"),
                  (80, "http", "web"), (8443, "https", "web")]


def _ftp_accepts(weak: LabDevice, user: str, password: str) -> bool:
    ftp = ftplib.FTP(weak.address, timeout=10)
    try:
        ftp.login(user, password)
        return True
    except ftplib.error_perm:
        return False
    finally:
        ftp.close()


def _scan(weak: LabDevice, port: int, protocol: str, scope: str) -> tuple[Finding, Any]:
    svc = Service(weak.address, port, "tcp", protocol, "test", tls=protocol == "https")
    options = ScanOptions(safety=SafetyOptions(timeout=5.0),
                          credentials=CredentialOptions(scope=CredentialScope(scope)))
    findings, store = run_single_check("default_credentials", weak.address, [svc], options, service=svc)
    assert len(findings) == 1, findings
    return findings[0], store


def test_first_scope_stops_at_the_first_proven_login(weak: LabDevice) -> None:
    f, _ = _scan(weak, 22, "ssh", "first")
    assert f.status is Status.FAIL
    assert f.details["scope"] == "first"
    assert [a["username"] for a in f.details["accepted"]] == ["admin"]
    assert f.details["attempts"] == 1  # admin/admin is the most likely pair and the device takes it
    assert "other accounts were not tried" in f.summary


Scans = dict[int, Future[tuple[Finding, Any]]]


@pytest.fixture(scope="module")
def accounts_scans(weak: LabDevice) -> Scans:
    with ThreadPoolExecutor(len(LOGIN_SERVICES)) as pool:
        return {port: pool.submit(_scan, weak, port, protocol, "accounts") for port, protocol, _ in LOGIN_SERVICES}


@pytest.mark.parametrize("port,protocol,family", LOGIN_SERVICES)
def test_accounts_scope_finds_every_default_credential_with_proof(weak: LabDevice, accounts_scans: Scans, port: int,
                                                                  protocol: str, family: str) -> None:
    expected = {(c.user, c.password) for c in weak.credentials if c.service == family}
    if protocol == "ftp":
        expected = {(u, p) for u, p in expected if _ftp_accepts(weak, u, p)}
    assert expected, weak.credentials
    f, store = accounts_scans[port].result()  # re-raises what this service's scan raised
    assert f.status is Status.FAIL, f
    assert f.details["scope"] == "accounts"
    found = {(a["username"], a["password"]) for a in f.details["accepted"]}
    assert found == expected
    assert "not tried" not in f.summary
    proofs = [store.artefacts[a] for a in f.artefacts if "(proof)" in store.artefacts[a].name]
    assert len(proofs) == len(expected)
    for user, _ in expected:
        assert any(user.encode() in p.data for p in proofs), user
