"""SSH password / keyboard-interactive login attempts through paramiko, on our own socket.

The socket comes from `ctx.connection()`, so the connection cap and timeouts hold; paramiko
only does the protocol. A login is proven by successful authentication plus opening a session
channel, which is then closed: no command, shell or subsystem is ever requested.

paramiko (5.x) negotiates neither SHA-1 key exchange nor ssh-rsa/ssh-dss host keys. When it
cannot agree with a legacy-only server we cannot test the login at all, so the result is
`unsupported`; the caller names the server's offered algorithms from its KEXINIT
(probe.protocols.ssh_kexinit).
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from probe.protocols.transcript import Transcript

if TYPE_CHECKING:
    import paramiko

logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # failures are reported as results

_IMPORT_LOCK = threading.Lock()


def load_paramiko() -> None:
    """paramiko, imported at its first use and without `invoke`.

    Why: paramiko.config imports invoke (a task runner: asyncio, unittest.mock, a vendored YAML
    parser; ~0.1 s, most of paramiko's import) only for the `Match exec` keyword of an OpenSSH
    client config file, which probe never reads. paramiko handles invoke being absent (that
    keyword then raises), so invoke is hidden from that one import; a module that imported
    invoke before is left as it is. Every paramiko user in probe calls this first; its own
    `import paramiko` after it is then a lookup (and typed by paramiko's stubs)."""
    with _IMPORT_LOCK:
        if "paramiko" in sys.modules:
            return
        hide = "invoke" not in sys.modules
        if hide:
            sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` raises ImportError
        try:
            import paramiko  # noqa: F401  # the import is the point
        finally:
            if hide and sys.modules.get("invoke", 0) is None:
                del sys.modules["invoke"]


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    NO_PASSWORD_AUTH = "no-password-auth"  # the server offers neither password nor keyboard-interactive
    UNSUPPORTED = "unsupported"  # no common algorithms with paramiko
    CLOSED = "closed"  # connection dropped / refused / timed out
    PROTOCOL = "protocol"


@dataclass
class LoginResult:
    outcome: Outcome
    detail: str
    server_version: str | None = None
    allowed: list[str] = field(default_factory=list)
    answer_latency: float | None = None
    user_only: bool = False  # authenticated by the user name alone (the SSH "none" method)


def _interactive_handler(password: str, t: Transcript) -> Callable[[str, str, list[tuple[str, bool]]], list[str]]:
    def handler(title: str, instructions: str, prompts: list[tuple[str, bool]]) -> list[str]:
        t.note(f"keyboard-interactive prompts {[p for p, _ in prompts]!r}")
        return [password if "pass" in p.lower() or len(prompts) == 1 else "" for p, _ in prompts]
    return handler


def try_login(sock: socket.socket, t: Transcript, username: str, password: str, *,
              timeout: float = 5.0, list_methods: bool = False) -> LoginResult:
    """One login attempt. With `list_methods` (or an empty password) a 'none' request goes first:
    the server's failure answer names the methods that can continue (RFC 4252 5.2), which is
    the evidence of whether the service takes passwords at all, in `allowed`. Neither OpenSSH nor
    dropbear counts a first 'none' request as a failed login (OpenSSH auth2.c, dropbear
    svr-auth.c), so it costs the trial one round trip and no tries."""
    # imported here, not at the top: paramiko is a third of probe's start-up, and a scan of a
    # device without a password-login SSH service never needs it
    load_paramiko()
    import paramiko

    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    transport.auth_timeout = timeout
    transport.handshake_timeout = timeout
    try:
        try:
            transport.start_client(timeout=timeout)
        except paramiko.ssh_exception.IncompatiblePeer as exc:
            t.note(f"paramiko could not negotiate: {exc}")
            return LoginResult(Outcome.UNSUPPORTED, str(exc), transport.remote_version or None)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            text = str(exc)
            t.note(f"SSH handshake failed: {text}")
            if "incompatible" in text.lower() or "no acceptable" in text.lower() or "no match" in text.lower():
                return LoginResult(Outcome.UNSUPPORTED, text, transport.remote_version or None)
            return LoginResult(Outcome.CLOSED, f"SSH handshake failed: {text or type(exc).__name__}",
                               transport.remote_version or None)
        version = transport.remote_version
        t.received(version.encode("utf-8", "replace") + b"\r\n")
        opts = transport.get_security_options()
        t.note(f"negotiated: host key {transport.host_key_type}, cipher {transport.remote_cipher}, "  # type: ignore[attr-defined]  # set by paramiko's key exchange, not in its stubs
               f"mac {transport.remote_mac}; client kex offer was {list(opts.kex)[:3]}...")  # type: ignore[attr-defined]  # as above
        allowed: list[str] = []
        sent = time.monotonic()
        if not password or list_methods:
            # a vendor account with no password: does the server let the user in on its name alone?
            # (and, asked once per service, which methods the server allows)
            t.note(f"auth_none(username={username!r}): "
                   + ("the pair has no password" if not password else "listing the allowed methods"))
            try:
                transport.auth_none(username)
            except paramiko.BadAuthenticationType as exc:
                allowed = list(exc.allowed_types)
                t.note(f"not without authentication; the server allows {allowed}")
            except (paramiko.SSHException, EOFError, OSError) as exc:
                t.note(f"connection lost during authentication: {exc}")
                return LoginResult(Outcome.CLOSED, f"connection lost during authentication: {exc}", version,
                                   allowed, time.monotonic() - sent)
            if transport.is_authenticated():
                t.note("authenticated by user name alone (SSH 'none' method accepted)")
                r = _prove(transport, t, version, allowed, time.monotonic() - sent, timeout,
                           "the user name alone was accepted (no password asked)")
                r.user_only = True
                return r
            if allowed and not {"password", "keyboard-interactive"} & set(allowed):
                return LoginResult(Outcome.NO_PASSWORD_AUTH, f"server allows only {allowed}", version, allowed)
        t.note(f"auth_password(username={username!r}, password={password!r})")
        sent = time.monotonic()
        try:
            transport.auth_password(username, password, fallback=False)
        except paramiko.BadAuthenticationType as exc:
            allowed = list(exc.allowed_types)
            t.note(f"server refuses password auth; it allows {allowed}")
            if "keyboard-interactive" not in allowed:
                return LoginResult(Outcome.NO_PASSWORD_AUTH, f"server allows only {allowed}", version, allowed)
            try:
                t.note(f"auth_interactive(username={username!r})")
                sent = time.monotonic()
                transport.auth_interactive(username, _interactive_handler(password, t))
            except paramiko.AuthenticationException as exc2:
                t.note(f"rejected: {exc2}")
                return LoginResult(Outcome.FAILURE, "keyboard-interactive rejected", version, allowed,
                                   time.monotonic() - sent)
        except paramiko.AuthenticationException as exc:
            t.note(f"rejected: {exc}")
            return LoginResult(Outcome.FAILURE, "password rejected", version, allowed, time.monotonic() - sent)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            t.note(f"connection lost during authentication: {exc}")
            return LoginResult(Outcome.CLOSED, f"connection lost during authentication: {exc}", version,
                               allowed, time.monotonic() - sent)
        latency = time.monotonic() - sent
        if not transport.is_authenticated():
            return LoginResult(Outcome.FAILURE, "not authenticated (further methods required)", version, allowed,
                               latency)
        return _prove(transport, t, version, allowed, latency, timeout, "authenticated")
    finally:
        transport.close()


def _prove(transport: paramiko.Transport, t: Transcript, version: str, allowed: list[str], latency: float,
           timeout: float, how: str) -> LoginResult:
    """An authenticated transport: open (and close) a session channel, the proof of a usable login."""
    import paramiko  # loaded by try_login already (see there why not at the top)

    t.note(f"{how}; opening a session channel to prove the login (no command is run)")
    try:
        chan = transport.open_session(timeout=timeout)
        chan.close()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        t.note(f"session channel refused: {exc}")
        return LoginResult(Outcome.SUCCESS, f"{how}, but the session channel was refused ({exc})",
                           version, allowed, latency)
    t.note("session channel opened and closed")
    return LoginResult(Outcome.SUCCESS, f"{how} and a session channel opened", version, allowed, latency)
