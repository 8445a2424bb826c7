"""Real daemons on 127.0.0.1 for the authentication tests, started and always stopped here.

Login accounts for dropbear and vsftpd live only inside a private mount namespace: the daemon
is started under `unshare --mount`, which bind-mounts copies of /etc/passwd, /etc/shadow and
/etc/shells that carry one extra test account whose shell is a harmless script. The host's
real account files are never modified.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

TEST_USER = "admin"
TEST_PASSWORD = "admin"  # rank 1 in the built-in list: default_credentials must find it
STRONG_PASSWORD = "K7#q-not-a-default-9f2"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tcp(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"daemon exited early ({proc.returncode}): {out[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"daemon did not listen on {port}")


@contextlib.contextmanager
def running(cmd: list[str], port: int | None, env: dict[str, str] | None = None,
            settle: float = 0.0) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        if port is not None:
            wait_tcp(port, proc)
        if settle:
            time.sleep(settle)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def sha512_hash(password: str) -> str:
    return subprocess.run(["openssl", "passwd", "-6", password], check=True, capture_output=True,
                          text=True).stdout.strip()


def fake_accounts(tmp: Path, password: str) -> Path:
    """Copies of passwd/shadow/shells with a test account; returns the directory holding them."""
    tmp.chmod(0o755)  # the test account (and dropped-privilege daemons) must reach files in here
    d = tmp / "etc"
    d.mkdir()
    home = Path("/var/run/vsftpd/empty")  # root-owned, empty, reachable by any uid (tmp_path parents are 0700)
    shell = tmp / "fakesh"
    shell.write_text("#!/bin/sh\necho 'probe test shell: nothing runs here'\nexit 0\n")
    shell.chmod(0o755)
    (d / "passwd").write_text(Path("/etc/passwd").read_text()
                              + f"{TEST_USER}:x:64990:64990:probe test:{home}:{shell}\n")
    (d / "shadow").write_text(Path("/etc/shadow").read_text() + f"{TEST_USER}:{sha512_hash(password)}:19000:0:99999:7:::\n")
    (d / "shadow").chmod(0o640)
    (d / "shells").write_text(Path("/etc/shells").read_text() + f"{shell}\n")
    return d


def in_account_namespace(etc: Path, cmd: list[str]) -> list[str]:
    binds = " && ".join(f"mount --bind {etc / n} /etc/{n}" for n in ("passwd", "shadow", "shells"))
    quoted = " ".join(f"'{c}'" for c in cmd)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", f"{binds} && exec {quoted}"]


# -- individual daemons ---------------------------------------------------------------------

@contextlib.contextmanager
def dropbear(tmp: Path, password: str = TEST_PASSWORD) -> Iterator[int]:
    etc = fake_accounts(tmp, password)
    key = tmp / "hostkey"
    subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(key)], check=True, capture_output=True)
    port = free_port()
    cmd = in_account_namespace(etc, ["dropbear", "-F", "-E", "-p", f"127.0.0.1:{port}", "-r", str(key)])
    with running(cmd, port):
        yield port


@contextlib.contextmanager
def legacy_sshd(tmp: Path) -> Iterator[int]:
    """OpenSSH offering only SHA-1 key exchange and an ssh-rsa host key (paramiko 5 speaks neither)."""
    key = tmp / "rsa_host"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key)], check=True)
    port = free_port()
    cfg = tmp / "sshd_config"
    cfg.write_text(f"""ListenAddress 127.0.0.1:{port}
HostKey {key}
KexAlgorithms diffie-hellman-group1-sha1,diffie-hellman-group14-sha1
HostKeyAlgorithms ssh-rsa
PubkeyAcceptedAlgorithms +ssh-rsa
PasswordAuthentication yes
UsePAM no
PidFile {tmp}/sshd.pid
ForceCommand /bin/true
""")
    Path("/run/sshd").mkdir(exist_ok=True)
    with running([shutil.which("sshd") or "/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)], port):
        yield port


LOGIN_SCRIPT = r"""#!/bin/bash
# A stand-in login program for busybox telnetd: asks login/password like a device does.
USER_OK="{user}"; PASS_OK="{password}"; STATE="{state}"; MODE="{mode}"
for try in 1 2 3; do
  printf 'fake-device login: '
  IFS= read -r u || exit 0; u="${{u%$'\r'}}"
  printf 'Password: '
  IFS= read -r p || exit 0; p="${{p%$'\r'}}"
  if [ "$MODE" = lockout ]; then
    n=$(cat "$STATE" 2>/dev/null || echo 0)
    if [ "$n" -ge 3 ]; then printf '\r\nAccount locked: too many failed attempts\r\n'; exit 1; fi
  fi
  if [ "$u" = "$USER_OK" ] && [ "$p" = "$PASS_OK" ]; then
    printf '\r\nBusyBox fake shell\r\n~ # '
    IFS= read -t 10 -r _ ; exit 0
  fi
  if [ "$MODE" = lockout ]; then echo $(( $(cat "$STATE" 2>/dev/null || echo 0) + 1 )) > "$STATE"; fi
  printf '\r\nLogin incorrect\r\n'
done
exit 1
"""


@contextlib.contextmanager
def telnetd(tmp: Path, user: str = TEST_USER, password: str = TEST_PASSWORD, mode: str = "plain") -> Iterator[int]:
    script = tmp / f"login-{mode}.sh"
    script.write_text(LOGIN_SCRIPT.format(user=user, password=password, state=tmp / "failures", mode=mode))
    script.chmod(0o755)
    port = free_port()
    with running(["busybox", "telnetd", "-F", "-K", "-p", str(port), "-b", "127.0.0.1", "-l", str(script)], port):
        yield port


@contextlib.contextmanager
def open_telnetd(tmp: Path) -> Iterator[int]:
    """A telnetd that drops straight into a (fake) shell prompt: no login at all."""
    script = tmp / "noauth.sh"
    script.write_text("#!/bin/bash\nprintf 'BusyBox fake shell\\r\\n/ # '\nIFS= read -t 10 -r _\nexit 0\n")
    script.chmod(0o755)
    port = free_port()
    with running(["busybox", "telnetd", "-F", "-K", "-p", str(port), "-b", "127.0.0.1", "-l", str(script)], port):
        yield port


@contextlib.contextmanager
def vsftpd(tmp: Path, *, anonymous: bool, password: str = TEST_PASSWORD) -> Iterator[int]:
    etc = fake_accounts(tmp, password)
    anon = tmp / "anon"
    anon.mkdir()
    os.chmod(anon, 0o555)
    port = free_port()
    conf = tmp / "vsftpd.conf"
    conf.write_text(f"""listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable={'YES' if anonymous else 'NO'}
anon_root={anon}
local_enable=YES
write_enable=NO
pam_service_name=vsftpd
secure_chroot_dir=/var/run/vsftpd/empty
seccomp_sandbox=NO
xferlog_enable=NO
delay_failed_login=0
""")
    with running(in_account_namespace(etc, ["vsftpd", str(conf)]), port):
        yield port


def digest_line(user: str, realm: str, password: str) -> str:
    import hashlib
    return f"{user}:{realm}:{hashlib.md5(f'{user}:{realm}:{password}'.encode()).hexdigest()}\n"


@contextlib.contextmanager
def lighttpd(tmp: Path, password: str = TEST_PASSWORD, *, admin_method: str = "basic",
             auth: bool = True) -> Iterator[int]:
    """/admin/ Basic (or Digest), /digest/ Digest (both TEST_USER), /index.html open, /settings open admin page.

    auth=False: no authentication anywhere and no /settings page (a plain open site).
    """
    root = tmp / "www"
    root.mkdir()
    for d in ("admin", "digest") if auth else ():
        (root / d).mkdir(parents=True)
        (root / d / "index.html").write_text(f"<html><body><h1>{d} settings</h1>Firmware upgrade, WAN "
                                              "configuration, reboot</body></html>\n")
    (root / "index.html").write_text("<html><body>Welcome to the device</body></html>\n")
    if not auth:
        port = free_port()
        conf = tmp / "lighttpd.conf"
        conf.write_text(f'server.document-root = "{root}"\nserver.bind = "127.0.0.1"\nserver.port = {port}\n'
                        f'index-file.names = ("index.html")\nserver.errorlog = "{tmp}/error.log"\n')
        with running(["lighttpd", "-D", "-f", str(conf)], port):
            yield port
        return
    (root / "settings").mkdir()
    (root / "settings" / "index.html").write_text(
        "<html><body><h1>Device settings</h1><form>Wireless SSID <input name=ssid> Admin password "
        "<input name=pw value=x> <button>Save configuration</button> Firmware upgrade | Factory reset | "
        "Reboot</form></body></html>\n")
    (tmp / "plain.users").write_text(f"{TEST_USER}:{password}\n")
    (tmp / "digest.users").write_text(digest_line(TEST_USER, "device", password))
    port = free_port()
    conf = tmp / "lighttpd.conf"
    conf.write_text(f"""server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.modules = ("mod_auth", "mod_authn_file")
server.errorlog = "{tmp}/error.log"
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html")
auth.backend.plain.userfile = "{tmp}/plain.users"
auth.backend.htdigest.userfile = "{tmp}/digest.users"
$HTTP["url"] =~ "^/admin" {{
  auth.backend = "{'plain' if admin_method == 'basic' else 'htdigest'}"
  auth.require = ("/admin" => ("method" => "{admin_method}", "realm" => "device", "require" => "valid-user"))
}}
$HTTP["url"] =~ "^/digest" {{
  auth.backend = "htdigest"
  auth.require = ("/digest" => ("method" => "digest", "realm" => "device", "require" => "valid-user"))
}}
""")
    with running(["lighttpd", "-D", "-f", str(conf)], port):
        yield port


FORM_LOGIN_CGI = """#!/bin/sh
# The device's login handler: a form POST to a CGI script, as on many routers. lighttpd runs it.
body=$(head -c "${{CONTENT_LENGTH:-0}}")
field() {{ printf '%s' "$body" | tr '&' '\\n' | sed -n "s/^$1=//p" | head -n 1; }}
printf 'Content-Type: text/html\\r\\n\\r\\n'
if [ "$(field tok)" = "{token}" ] && [ "$(field username)" = "{user}" ] && [ "$(field password)" = "{password}" ]; then
  printf '<html><body><h1>Router status</h1>Firmware 2.1.0 | WAN up | <a href="/reboot">Reboot</a></body></html>\\n'
else
  printf '<html><body><p>Invalid user name or password</p>{form}</body></html>\\n'
fi
"""
LOGIN_FORM = ('<form method="post" action="/cgi-bin/login.cgi"><input type="hidden" name="tok" value="{token}">'
              'User <input type="text" name="username"> Password <input type="password" name="password">'
              '<input type="submit" value="Log in"></form>')


@contextlib.contextmanager
def lighttpd_form(tmp: Path, password: str = TEST_PASSWORD) -> Iterator[int]:
    """A web UI whose root page is an HTML login form posting to a CGI handler (real lighttpd,
    mod_cgi); the handler checks a hidden token too, so the form's hidden fields must be sent."""
    token = "t0k3n"
    form = LOGIN_FORM.format(token=token)
    root = tmp / "www"
    (root / "cgi-bin").mkdir(parents=True)
    (root / "index.html").write_text(f"<html><body><h1>Router login</h1>{form}</body></html>\n")
    cgi = root / "cgi-bin" / "login.cgi"
    cgi.write_text(FORM_LOGIN_CGI.format(token=token, user=TEST_USER, password=password, form=form))
    cgi.chmod(0o755)
    port = free_port()
    conf = tmp / "lighttpd.conf"
    conf.write_text(f"""server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.modules = ("mod_cgi")
server.errorlog = "{tmp}/error.log"
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html")
cgi.assign = (".cgi" => "/bin/sh")
""")
    with running(["lighttpd", "-D", "-f", str(conf)], port):
        yield port


@contextlib.contextmanager
def mosquitto(tmp: Path, *, anonymous: bool, password: str = TEST_PASSWORD) -> Iterator[int]:
    port = free_port()
    conf = tmp / "mosquitto.conf"
    lines = [f"listener {port} 127.0.0.1", f"allow_anonymous {'true' if anonymous else 'false'}",
             "persistence false", "log_dest stdout"]
    # mosquitto drops to its own user before reading the password file, and pytest's tmp_path
    # parents are 0700: the file lives in a world-traversable directory of its own.
    pwdir = Path(tempfile.mkdtemp(prefix="probe-mqtt-"))
    try:
        pwdir.chmod(0o755)
        if not anonymous:
            pw = pwdir / "mqtt.passwd"
            pw.touch()
            subprocess.run(["mosquitto_passwd", "-b", str(pw), TEST_USER, password], check=True, capture_output=True)
            pw.chmod(0o644)
            lines.append(f"password_file {pw}")
        conf.write_text("\n".join(lines) + "\n")
        with running(["mosquitto", "-c", str(conf)], port):
            yield port
    finally:
        shutil.rmtree(pwdir, ignore_errors=True)


@contextlib.contextmanager
def snmpd(tmp: Path, *, rw: bool = True, ro_community: str = "public") -> Iterator[int]:
    port = free_port(socket.SOCK_DGRAM)
    conf = tmp / "snmpd.conf"
    lines = [f"rocommunity {ro_community} 127.0.0.1", "sysLocation probe-test-lab"]
    if rw:
        lines.append("rwcommunity private 127.0.0.1")
    conf.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, SNMP_PERSISTENT_DIR=str(tmp / "snmp-persist"), MIBS="")
    cmd = ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(tmp / "snmpd.pid"), f"udp:127.0.0.1:{port}"]
    with running(cmd, None, env=env, settle=0.0) as proc:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # ready when it answers
            r = subprocess.run(["snmpget", "-v2c", "-c", ro_community, "-t", "0.3", "-r", "0",
                                f"udp:127.0.0.1:{port}", "1.3.6.1.2.1.1.5.0"], capture_output=True, env=env)
            if r.returncode == 0:
                break
            if proc.poll() is not None:
                raise RuntimeError("snmpd exited early")
        yield port
