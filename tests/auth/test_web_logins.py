"""Web logins the way shipped products run them, against lighttpd and a login-handler CGI on 127.0.0.1.

Each pattern (tests/helpers/webui.py) has a FAIL with proof (the default pair logs in), a PASS with a
unique password (every default refused, no false positive), and the cases where the login cannot
be found or proven end INCONCLUSIVE with the reason, never PASS.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from probe.models import Finding, InconclusiveReason, Status
from probe.options import CredentialOptions
from probe.store import EvidenceStore
from tests.helpers.checks import artefact_text, check_service, one
from tests.helpers.daemons import STRONG_PASSWORD, TEST_PASSWORD, LocalDaemons
from tests.helpers.webui import frames_form_login, spa_json_login, xhr_concat_login

pytestmark = pytest.mark.usefixtures("lab_tools")
BUDGET = CredentialOptions(budget=3)


def run_check(check_id: str, port: int, protocol: str, **kw: Any) -> tuple[list[Finding], EvidenceStore]:
    """As tests.helpers.checks.check_service, with time for a Python CGI to start on a loaded machine."""
    return check_service(check_id, port, protocol, timeout=10.0, **kw)


def _tokens_sent(text: str, field: str) -> list[str]:
    return re.findall(rf'"{field}":"([0-9a-f]+)"|{field}=([0-9a-f]+)', text)


def test_script_redirect_to_json_login_default_found_and_proven(daemons: LocalDaemons) -> None:
    port = spa_json_login(daemons, TEST_PASSWORD)
    f, store = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is Status.FAIL and "script login (JSON POST to /api/v2/user/login)" in f.summary, f
    assert f.details["login_kind"] == "script" and f.details["login_path"] == "/api/v2/user/login"
    proof = store.artefacts[f.artefacts[0]].data.decode()
    # the page was fetched fresh for this attempt, and its one-time token went into the JSON body
    page_token = re.search(r'name="_tk" value="([0-9a-f]+)"', proof).group(1)
    assert f'{{"user":"admin","passwd":"admin","_tk":"{page_token}","lang":"en"}}' in proof  # the script's order
    assert "Content-Type: application/json" in proof and '"success": true' in proof
    discovery = artefact_text(store, f)
    assert 'top.location.replace("/ui/login.html")' in discovery  # reached through the script redirect
    assert "GET /static/js/main.js" in discovery and "jquery-3.7.1.min.js HTTP" not in discovery
    assert "control attempt with a random wrong password" in discovery
    assert "GET /help.htm" in discovery  # the page's links are followed, but never an action's path
    assert "GET /logout.htm" not in discovery and "reboot.cgi HTTP" not in discovery


def test_json_login_with_unique_password_passes(daemons: LocalDaemons) -> None:
    port = spa_json_login(daemons, STRONG_PASSWORD)
    f, store = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is Status.PASS, f
    table = json.loads(store.artefacts[f.artefacts[-1]].data)
    assert [a["result"] for a in table["attempts"]] == ["failure"] * 3
    log = artefact_text(store, f)
    tokens = [a or b for a, b in _tokens_sent(log, "_tk")]
    assert len(tokens) >= 3 and len(set(tokens)) == len(tokens)  # a fresh token for every attempt


def test_unknown_user_answer_is_not_taken_for_a_login(daemons: LocalDaemons) -> None:
    """root/root gets "Unknown user." where the wrong-password control (admin) got "Wrong password.":
    a different answer, but the same as a wrong password for root, so not a login."""
    port = spa_json_login(daemons, STRONG_PASSWORD, name_users=True)
    f, store = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is Status.PASS, f
    table = json.loads(store.artefacts[f.artefacts[-1]].data)
    root = next(a for a in table["attempts"] if a["username"] == "root")
    assert root["result"] == "failure" and "same answer as a wrong password for the same user" in root["detail"]


def test_meta_refresh_frames_and_fresh_form_token_default_found(daemons: LocalDaemons) -> None:
    port = frames_form_login(daemons, TEST_PASSWORD)
    f, store = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is Status.FAIL and "HTTP form at /login.htm" in f.summary, f
    proof = store.artefacts[f.artefacts[0]].data.decode()
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', proof).group(1)
    assert "POST /goform/formLogin" in proof and f"csrf={token}&login_user=admin&login_pwd=admin" in proof
    assert "<h1>Status</h1>" in proof
    discovery = artefact_text(store, f)
    assert "GET /main.htm" in discovery and "GET /login.htm" in discovery  # meta refresh, then the frame


def test_frames_form_with_unique_password_passes(daemons: LocalDaemons) -> None:
    port = frames_form_login(daemons, STRONG_PASSWORD)
    f, store = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is Status.PASS, f  # each refusal carries a new token: still the same answer


def test_password_the_script_hashes_is_hashed_the_same_way(daemons: LocalDaemons) -> None:
    port = spa_json_login(daemons, TEST_PASSWORD, password_js="hex_md5(pw)", hashed=True)
    f, store = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is Status.FAIL and "password sent as md5(password)" in f.summary, f
    proof = store.artefacts[f.artefacts[0]].data.decode()
    assert '{"user":"admin","passwd":"21232f297a57a5a743894a0e4a801fc3","_tk":' in proof  # md5("admin")


@pytest.mark.parametrize(("password", "status"), [(TEST_PASSWORD, Status.FAIL), (STRONG_PASSWORD, Status.PASS)])
def test_http_redirect_to_concatenated_xhr_login_with_md5(daemons: LocalDaemons, password: str,
                                                         status: Status) -> None:
    port = xhr_concat_login(daemons, password)
    f, store = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is status and "form-encoded POST to /cgi-bin/auth.cgi" in f.summary, f
    log = artefact_text(store, f)
    assert "GET /html/login.htm" in log  # the 302 from / was followed to the login page
    assert "GET /js/md5.js" not in log  # a hashing library is not the login code
    if status is Status.FAIL:
        assert re.search(r"username=admin&password=21232f297a57a5a743894a0e4a801fc3&_=\d{13}", log)


@pytest.mark.parametrize(("kind", "why"), [
    ("encrypted", "transforms the password with encrypt(...)"),
    ("nonce", "two wrong passwords got different answers"),
    ("unserved", "answered 404 to the login request"),
])
def test_login_that_cannot_be_proven_is_inconclusive(daemons: LocalDaemons, kind: str, why: str) -> None:
    """The default pair is right on both devices: claiming PASS would hide it, claiming FAIL is unproven."""
    if kind == "encrypted":  # a keyed transform (RSA/AES in real UIs): nothing probe can reproduce
        port = spa_json_login(daemons, TEST_PASSWORD, password_js="encrypt(pw, API.key)", hashed=True)
    elif kind == "nonce":
        port = spa_json_login(daemons, TEST_PASSWORD, nonce=True)
    else:  # the script names an API path nothing answers at: a PASS there would hide the real login
        port = spa_json_login(daemons, TEST_PASSWORD, api_served=False)
    f, store = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and f.reason_code is InconclusiveReason.UNSUPPORTED, f
    assert why in f.reason
    log = artefact_text(store, f)
    assert '"passwd":"admin"' not in log  # not one default pair was sent
    if kind == "encrypted":
        assert "POST /api/v2/user/login" not in log  # not even the control


def test_login_call_built_at_run_time_is_not_found_and_not_passed(daemons: LocalDaemons) -> None:
    port = spa_json_login(daemons, TEST_PASSWORD, api_literal=False)
    f, _ = run_check("default_credentials", port, "http", credentials=BUDGET)
    f = one(f)
    assert f.status is Status.INCONCLUSIVE and "through scripts" in f.summary, f


def test_script_login_on_plain_http_is_cleartext(daemons: LocalDaemons) -> None:
    port = spa_json_login(daemons, STRONG_PASSWORD)
    f, store = run_check("cleartext_authentication", port, "http")
    f = one(f)
    assert f.status is Status.FAIL and f.details["surface"] == "script", f
    assert ">> POST" not in artefact_text(store, f)  # the search sends GETs only
