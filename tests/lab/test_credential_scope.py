"""--credential-scope against the weak gateway's real dropbear, where two accounts keep defaults.

"first" (the default) must stop the service at its first proven login and say so; "accounts"
must go on and list every account with a default password. Both must FAIL the same way.
"""

from __future__ import annotations

import pytest

from probe.context import ScanOptions
from probe.engine import run_single_check
from probe.lab import LabDevice
from probe.models import Service, Status

pytestmark = pytest.mark.lab


def _scan(weak: LabDevice, scope: str):  # type: ignore[no-untyped-def]
    svc = Service(weak.address, 22, "tcp", "ssh", "test")
    findings, _ = run_single_check("default_credentials", weak.address, [svc],
                                   ScanOptions(timeout=5.0, credential_scope=scope), service=svc)
    assert len(findings) == 1, findings
    return findings[0]


def test_first_scope_stops_at_the_first_proven_login(weak: LabDevice) -> None:
    f = _scan(weak, "first")
    assert f.status is Status.FAIL
    assert f.details["scope"] == "first"
    assert [a["username"] for a in f.details["accepted"]] == ["admin"]
    assert f.details["attempts"] == 1  # admin/admin is the most likely pair and the device takes it
    assert "other accounts were not tried" in f.summary


def test_accounts_scope_lists_every_account_with_a_default_password(weak: LabDevice) -> None:
    f = _scan(weak, "accounts")
    assert f.status is Status.FAIL
    assert f.details["scope"] == "accounts"
    users = {a["username"] for a in f.details["accepted"]}
    assert {"admin", "root"} <= users, users
    assert f.details["attempts"] > 1
    assert "not tried" not in f.summary
