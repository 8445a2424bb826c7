"""Real Debian daemons on 127.0.0.1 for one test or one shared fixture, started and always stopped.

`LocalDaemons` knows how each daemon the tests use is configured: dropbear and OpenSSH, busybox
telnetd (with a stand-in login program), vsftpd, lighttpd (static sites, HTTP auth, a CGI login
form, TLS), mosquitto, snmpd, dnsmasq and `openssl s_server`. Each start gets its own directory
under the registry's work directory and a port from the kernel; each method returns that port
once the daemon answers.

Login accounts for dropbear and vsftpd live only inside a private mount namespace: the daemon is
started under `unshare --mount`, which bind-mounts copies of /etc/passwd, /etc/shadow and
/etc/shells that carry one extra test account whose shell is a harmless script. The host's real
account files are never modified.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.helpers.ports import LOOPBACK, free_port
from tests.helpers.processes import Daemons

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_USER = "admin"
TEST_PASSWORD = "admin"  # rank 1 in the built-in list: default_credentials must find it
STRONG_PASSWORD = "K7#q-not-a-default-9f2"

MIME = {".html": "text/html; charset=utf-8", ".json": "application/json", ".txt": "text/plain; charset=utf-8",
        ".xml": "text/xml", ".jpg": "image/jpeg", ".mjpg": "multipart/x-mixed-replace; boundary=frame"}

# OpenSSH with the legacy algorithms added to its defaults (modern clients still get in)
LEGACY_SSH = ["KexAlgorithms +diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,"
              "diffie-hellman-group-exchange-sha1", "Ciphers +3des-cbc,aes128-cbc", "MACs +hmac-md5,hmac-sha1-96",
              "HostKeyAlgorithms +ssh-rsa,ssh-dss"]
LEGACY_SSH_KEYS = [("rsa", "rsa:1024"), ("dsa", "dsa"), ("ecdsa", "ecdsa:256"), ("ed", "ed25519")]
# OpenSSH speaking ONLY SHA-1 key exchange with an ssh-rsa host key: paramiko 5 cannot negotiate
LEGACY_ONLY_SSH = ["KexAlgorithms diffie-hellman-group1-sha1,diffie-hellman-group14-sha1", "HostKeyAlgorithms ssh-rsa",
                   "PubkeyAcceptedAlgorithms +ssh-rsa", "Ciphers aes128-cbc", "MACs hmac-sha1",
                   "PasswordAuthentication yes", "ForceCommand /bin/true"]
LEGACY_ONLY_SSH_KEYS = [("rsa", "rsa:2048")]

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
# The login shell of the vendor-style test accounts: a device prompt that runs nothing (the login
# is real, on this machine, so the "shell" must not be one; cf. probe/lab/templates/fakeshell.sh)
PROMPT_SHELL = ("#!/bin/bash -p\nPATH=/nonexistent\nprintf '\\r\\nBusyBox v1.30.1 built-in shell (ash)\\r\\n~ # '\n"
                "IFS= read -r -t 10 _\nexit 0\n")
OPEN_SHELL_SCRIPT = "#!/bin/bash\nprintf 'BusyBox fake shell\\r\\n/ # '\nIFS= read -t 10 -r _\nexit 0\n"

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
SETTINGS_PAGE = ("<html><body><h1>Device settings</h1><form>Wireless SSID <input name=ssid> Admin password "
                 "<input name=pw value=x> <button>Save configuration</button> Firmware upgrade | Factory reset | "
                 "Reboot</form></body></html>\n")


def _sha512_crypt(password: str) -> str:
    return subprocess.run(["openssl", "passwd", "-6", password], check=True, capture_output=True, text=True,
                          timeout=30).stdout.strip()


def _digest_line(user: str, realm: str, password: str) -> str:
    return f"{user}:{realm}:{hashlib.md5(f'{user}:{realm}:{password}'.encode()).hexdigest()}\n"


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """`files` (URL path -> content) as a document root."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


class LocalDaemons(Daemons):
    """Start loopback daemons, each configured under its own directory in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.workdir = workdir
        self._count = 0

    def _dir(self, name: str) -> Path:
        while True:  # another registry may have used this work directory before
            self._count += 1
            d = self.workdir / f"{self._count:02d}-{name}"
            if not d.exists():
                d.mkdir(parents=True)
                return d

    # -- accounts ------------------------------------------------------------------------------
    def _accounts(self, d: Path, password: str) -> Path:
        """Copies of passwd/shadow/shells with the test account; returns the directory holding them."""
        d.chmod(0o755)  # the test account (and dropped-privilege daemons) must reach files in here
        etc = d / "etc"
        etc.mkdir()
        home = Path("/var/run/vsftpd/empty")  # root-owned, empty, reachable by any uid
        shell = d / "fakesh"
        shell.write_text("#!/bin/sh\necho 'probe test shell: nothing runs here'\nexit 0\n")
        shell.chmod(0o755)
        (etc / "passwd").write_text(Path("/etc/passwd").read_text()
                                    + f"{TEST_USER}:x:64990:64990:probe test:{home}:{shell}\n")
        (etc / "shadow").write_text(Path("/etc/shadow").read_text()
                                    + f"{TEST_USER}:{_sha512_crypt(password)}:19000:0:99999:7:::\n")
        (etc / "shadow").chmod(0o640)
        (etc / "shells").write_text(Path("/etc/shells").read_text() + f"{shell}\n")
        return etc

    def _vendor_accounts(self, d: Path, accounts: Mapping[str, str]) -> Path:
        """Copies of passwd/shadow/shells with vendor-style accounts (user -> password; "" is an
        account with no password at all, as devices ship them), each with PROMPT_SHELL as shell."""
        d.chmod(0o755)
        etc = d / "etc"
        etc.mkdir()
        home = Path("/var/run/vsftpd/empty")
        # the accounts' uids must reach their shell: outside the private work directory
        bindir = Path(tempfile.mkdtemp(prefix="probe-vendor-shell-"))
        bindir.chmod(0o755)
        self.cleanup_paths.append(bindir)
        shell = bindir / "promptsh"
        shell.write_text(PROMPT_SHELL)
        shell.chmod(0o755)
        # the host's own accounts stay in the copies (daemons drop privileges to them) but locked and
        # without a shell: a default pair tried on root must never meet the machine's real root
        passwd = "".join(":".join(f.split(":")[:6] + ["/usr/sbin/nologin"]) + "\n"
                         for f in Path("/etc/passwd").read_text().splitlines() if f.count(":") == 6)
        shadow = "".join(":".join([f.split(":")[0], "!", *f.split(":")[2:]]) + "\n"
                         for f in Path("/etc/shadow").read_text().splitlines() if f.count(":") == 8)
        for n, (user, password) in enumerate(accounts.items()):
            assert f"\n{user}:" not in "\n" + passwd, f"{user} is a host account: use another name"
            passwd += f"{user}:x:{64991 + n}:{64991 + n}:probe vendor test:{home}:{shell}\n"
            shadow += f"{user}:{_sha512_crypt(password) if password else ''}:19000:0:99999:7:::\n"
        (etc / "passwd").write_text(passwd)
        (etc / "shadow").write_text(shadow)
        (etc / "shadow").chmod(0o640)
        (etc / "shells").write_text(Path("/etc/shells").read_text() + f"{shell}\n")
        return etc

    @staticmethod
    def _in_account_namespace(etc: Path, cmd: Sequence[str]) -> list[str]:
        binds = " && ".join(f"mount --bind {etc / n} /etc/{n}" for n in ("passwd", "shadow", "shells"))
        quoted = " ".join(f"'{c}'" for c in cmd)
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", f"{binds} && exec {quoted}"]

    # -- SSH -----------------------------------------------------------------------------------
    def dropbear(self, password: str = TEST_PASSWORD) -> int:
        """dropbear with ed25519 and RSA-2048 host keys; the test account logs in with `password`."""
        d = self._dir("dropbear")
        etc = self._accounts(d, password)
        keys = []
        for kind, extra in (("ed25519", []), ("rsa", ["-s", "2048"])):
            key = d / f"hostkey_{kind}"
            subprocess.run(["dropbearkey", "-t", kind, *extra, "-f", str(key)], check=True, capture_output=True,
                           timeout=60)
            keys += ["-r", str(key)]
        port = free_port()
        self.start(self._in_account_namespace(etc, ["dropbear", "-F", "-E", "-p", f"{LOOPBACK}:{port}", *keys,
                                                    "-P", str(d / "dropbear.pid")]), port=port)
        return port

    def sshd(self, config: Sequence[str | bytes], keys: Sequence[tuple[str, str]]) -> int:
        """OpenSSH `sshd -D` with its own host keys (name, "type[:bits]") and config lines."""
        d = self._dir("sshd")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # its privilege-separation directory
        lines: list[bytes] = []
        for name, spec in keys:
            ktype, _, bits = spec.partition(":")
            path = d / f"hk_{name}"
            size = ["-b", bits] if bits else []
            subprocess.run(["ssh-keygen", "-q", "-t", ktype, "-N", "", "-f", str(path), *size], check=True,
                           capture_output=True, timeout=60)
            lines.append(f"HostKey {path}".encode())
        port = free_port()
        lines += [b"PidFile none", b"UsePAM no", f"ListenAddress {LOOPBACK}".encode(), f"Port {port}".encode()]
        lines += [c if isinstance(c, bytes) else c.encode() for c in config]
        cfg = d / "sshd_config"
        cfg.write_bytes(b"\n".join(lines) + b"\n")
        self.start(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)], port=port)
        return port

    # -- telnet --------------------------------------------------------------------------------
    def telnetd(self, login: str = "/bin/false", issue: bytes | None = None) -> int:
        """busybox telnetd running `login` for each connection (and showing `issue` first)."""
        d = self._dir("telnetd")
        port = free_port()
        argv = ["busybox", "telnetd", "-F", "-K", "-p", str(port), "-b", LOOPBACK, "-l", login]
        if issue is not None:
            (d / "issue").write_bytes(issue)
            argv[-2:-2] = ["-f", str(d / "issue")]
        self.start(argv, port=port)
        return port

    def telnetd_busybox(self, accounts: Mapping[str, str], issue: bytes | None = None) -> int:
        """busybox telnetd with busybox's own login (as routers and cameras run it) checking
        `accounts` (user -> password, "" for none: busybox login then asks no password at all);
        busybox login sleeps 3 s after a wrong password and hangs up after 3."""
        d = self._dir("telnetd-busybox")
        etc = self._vendor_accounts(d, accounts)
        login = d / "login"
        login.symlink_to("/bin/busybox")  # busybox runs the applet named by argv[0]'s basename
        port = free_port()
        argv = ["busybox", "telnetd", "-F", "-K", "-p", str(port), "-b", LOOPBACK, "-l", str(login)]
        if issue is not None:
            (d / "issue").write_bytes(issue)
            argv[-2:-2] = ["-f", str(d / "issue")]
        self.start(self._in_account_namespace(etc, argv), port=port)
        return port

    def dropbear_accounts(self, accounts: Mapping[str, str], *, blank_ok: bool = False) -> int:
        """dropbear with vendor-style accounts (user -> password, "" for none); blank_ok (-B) lets an
        account with no password in, as some devices ship it."""
        d = self._dir("dropbear-vendor")
        etc = self._vendor_accounts(d, accounts)
        key = d / "hostkey_ed25519"
        subprocess.run(["dropbearkey", "-t", "ed25519", "-f", str(key)], check=True, capture_output=True, timeout=60)
        port = free_port()
        argv = ["dropbear", "-F", "-E", "-p", f"{LOOPBACK}:{port}", "-r", str(key), "-P", str(d / "dropbear.pid")]
        if blank_ok:
            argv.append("-B")
        self.start(self._in_account_namespace(etc, argv), port=port)
        return port

    def telnetd_login(self, user: str = TEST_USER, password: str = TEST_PASSWORD, mode: str = "plain") -> int:
        """telnetd with a device-like login prompt; mode "lockout" refuses everyone after 3 failures."""
        d = self._dir("telnet-login")
        script = d / "login.sh"
        script.write_text(LOGIN_SCRIPT.format(user=user, password=password, state=d / "failures", mode=mode))
        script.chmod(0o755)
        return self.telnetd(str(script))

    def telnetd_open_shell(self) -> int:
        """telnetd that drops straight into a (fake) shell prompt: no login at all."""
        script = self._dir("telnet-open") / "noauth.sh"
        script.write_text(OPEN_SHELL_SCRIPT)
        script.chmod(0o755)
        return self.telnetd(str(script))

    # -- FTP -----------------------------------------------------------------------------------
    def vsftpd(self, *, anonymous: bool, password: str | None = None, banner: bytes | None = None) -> int:
        """vsftpd; with `password`, the test account logs in (PAM, in the account namespace)."""
        d = self._dir("vsftpd")
        port = free_port()
        anon = d / "anon"
        anon.mkdir()
        anon.chmod(0o555)
        conf = ["listen=YES", "listen_ipv6=NO", f"listen_address={LOOPBACK}", f"listen_port={port}", "background=NO",
                f"anonymous_enable={'YES' if anonymous else 'NO'}", f"anon_root={anon}", "local_enable=YES",
                "write_enable=NO", "seccomp_sandbox=NO", "xferlog_enable=NO", "pasv_enable=NO"]
        if banner is not None:
            (d / "banner").write_bytes(banner)
            conf.append(f"banner_file={d / 'banner'}")
        argv = ["vsftpd", str(d / "vsftpd.conf")]
        if password is not None:
            conf += ["pam_service_name=vsftpd", "secure_chroot_dir=/var/run/vsftpd/empty", "delay_failed_login=0"]
            argv = self._in_account_namespace(self._accounts(d, password), argv)
        else:
            empty = d / "empty"
            empty.mkdir()
            conf.append(f"secure_chroot_dir={empty}")
        (d / "vsftpd.conf").write_text("\n".join(conf) + "\n")
        self.start(argv, port=port)
        return port

    # -- file shares and consoles --------------------------------------------------------------
    def samba(self, *, guest: bool) -> int:
        """smbd (Debian samba) on 127.0.0.1 with one share, `media`, holding two files. guest=True is
        how NAS boxes ship it (`guest ok`, `map to guest = Bad User`); guest=False is hardened:
        no guest mapping, anonymous sessions refused (`restrict anonymous = 2`), the share for a
        named user only."""
        d = self._dir("samba")
        for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc"):
            (d / sub).mkdir()
        # the share must be reachable by the guest account (nobody): outside the private work directory
        share = Path(tempfile.mkdtemp(prefix="probe-smb-share-"))
        self.cleanup_paths.append(share)
        share.chmod(0o755)
        for name in ("holiday.mp4", "notes.txt"):
            (share / name).write_text(f"probe test file {name}\n")
        port = free_port()
        access = ["guest ok = yes"] if guest else ["guest ok = no", "valid users = nasadmin"]
        lines = ["[global]", "server role = standalone server", f"interfaces = {LOOPBACK}",
                 "bind interfaces only = yes", f"smb ports = {port}", "disable netbios = yes", "load printers = no",
                 "printing = bsd",
                 "printcap name = /dev/null", "disable spoolss = yes", f"log file = {d}/smbd.log",
                 *(f"{k} dir = {d / k}" for k in ("private", "ncalrpc")),
                 *(f"{k} directory = {d / k}" for k in ("lock", "state", "cache", "pid")),
                 "map to guest = Bad User" if guest else "map to guest = Never",
                 "restrict anonymous = 0" if guest else "restrict anonymous = 2",
                 "[media]", f"path = {share}", "read only = yes", "comment = Media library", *access]
        conf = d / "smb.conf"
        conf.write_text("\n".join(lines) + "\n")
        # smbd starts samba-dcerpcd (the share list's srvsvc) in a session of its own: stop it too
        self.detached.append((d / "pid" / "samba-dcerpcd.pid", str(conf)))
        self.start(["smbd", "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)], port=port,
                   cwd=d)
        return port

    def console(self, script: str) -> int:
        """socat serving `script` (a restricted fake shell, never a real one) on a loopback port,
        one process per connection and no login: a debug console as vendors leave them."""
        d = self._dir("console")
        sh = d / "console.sh"
        sh.write_text(script)
        sh.chmod(0o755)
        port = free_port()
        self.start(["socat", f"TCP-LISTEN:{port},bind={LOOPBACK},reuseaddr,fork", f"EXEC:{sh},stderr"], port=port)
        return port

    # -- web -----------------------------------------------------------------------------------
    def lighttpd(self, files: Mapping[str, str | bytes], *, tls_pem: Path | None = None, port: int | None = None,
                 conf: Sequence[str | bytes] = (), tag: str | bytes | None = None) -> int:
        """lighttpd serving `files` (URL path -> content); `tls_pem` (cert + key) makes it HTTPS."""
        d = self._dir("lighttpd")
        docroot = write_tree(d / "www", files)
        port = port or free_port()
        mimes = ", ".join(f'"{ext}" => "{t}"' for ext, t in MIME.items())
        lines: list[str | bytes] = [f'server.document-root = "{docroot}"', f'server.bind = "{LOOPBACK}"',
                                    f"server.port = {port}", f'server.errorlog = "{d}/error.log"',
                                    'index-file.names = ("index.html")',
                                    f'mimetype.assign = ({mimes}, "" => "application/json")']
        if tag is not None:
            lines.append(b'server.tag = "' + (tag.encode() if isinstance(tag, str) else tag) + b'"')
        if tls_pem is not None:
            lines += ['server.modules += ("mod_openssl")', 'ssl.engine = "enable"', f'ssl.pemfile = "{tls_pem}"']
        lines += conf
        cf = d / "lighttpd.conf"
        cf.write_bytes(b"\n".join(ln if isinstance(ln, bytes) else ln.encode() for ln in lines) + b"\n")
        self.start(["lighttpd", "-D", "-f", str(cf)], port=port)
        return port

    def lighttpd_auth(self, password: str = TEST_PASSWORD, *, admin_method: str = "basic") -> int:
        """/admin/ Basic (or Digest) and /digest/ Digest for the test account; / and /settings/ open
        (the settings page is an admin page anyone can read)."""
        d = self._dir("lighttpd-auth")
        (d / "plain.users").write_text(f"{TEST_USER}:{password}\n")
        (d / "digest.users").write_text(_digest_line(TEST_USER, "device", password))
        protected = {f"/{p}/index.html": f"<html><body><h1>{p} settings</h1>Firmware upgrade, WAN "
                                         "configuration, reboot</body></html>\n" for p in ("admin", "digest")}
        files = {"/index.html": "<html><body>Welcome to the device</body></html>\n",
                 "/settings/index.html": SETTINGS_PAGE, **protected}
        backend = "plain" if admin_method == "basic" else "htdigest"
        return self.lighttpd(files, conf=[
            'server.modules += ("mod_auth", "mod_authn_file")',
            f'auth.backend.plain.userfile = "{d}/plain.users"',
            f'auth.backend.htdigest.userfile = "{d}/digest.users"',
            '$HTTP["url"] =~ "^/admin" {',
            f'  auth.backend = "{backend}"',
            f'  auth.require = ("/admin" => ("method" => "{admin_method}", "realm" => "device", '
            '"require" => "valid-user"))',
            "}",
            '$HTTP["url"] =~ "^/digest" {',
            '  auth.backend = "htdigest"',
            '  auth.require = ("/digest" => ("method" => "digest", "realm" => "device", "require" => "valid-user"))',
            "}"])

    def lighttpd_realm(self, realm: str, user: str, password: str, *, method: str = "basic") -> int:
        """A web UI behind HTTP Basic or Digest from its first page, under the product's own realm
        (as embedded routers ship it: the whole site asks for the login)."""
        d = self._dir("lighttpd-realm")
        (d / "plain.users").write_text(f"{user}:{password}\n")
        (d / "digest.users").write_text(_digest_line(user, realm, password))
        backend = "plain" if method == "basic" else "htdigest"
        return self.lighttpd({"/index.html": "<html><body><h1>Device status</h1>WAN up | Firmware upgrade | "
                                             "Reboot</body></html>\n"}, conf=[
            'server.modules += ("mod_auth", "mod_authn_file")',
            f'auth.backend = "{backend}"',
            f'auth.backend.plain.userfile = "{d}/plain.users"',
            f'auth.backend.htdigest.userfile = "{d}/digest.users"',
            f'auth.require = ("/" => ("method" => "{method}", "realm" => "{realm}", "require" => "valid-user"))'])

    def lighttpd_open(self) -> int:
        """A plain open site: no authentication anywhere, no settings page."""
        return self.lighttpd({"/index.html": "<html><body>Welcome to the device</body></html>\n"})

    def lighttpd_form(self, password: str = TEST_PASSWORD) -> int:
        """A web UI whose root page is an HTML login form posting to a CGI handler (mod_cgi); the
        handler checks a hidden token too, so the form's hidden fields must be sent."""
        token = "t0k3n"
        form = LOGIN_FORM.format(token=token)
        cgi = FORM_LOGIN_CGI.format(token=token, user=TEST_USER, password=password, form=form)
        port = self.lighttpd({"/index.html": f"<html><body><h1>Router login</h1>{form}</body></html>\n",
                              "/cgi-bin/login.cgi": cgi},
                             conf=['server.modules += ("mod_cgi")', 'cgi.assign = (".cgi" => "/bin/sh")'])
        return port

    def lighttpd_lockout(self, password: str = STRONG_PASSWORD, *, lockout_after: int = 3, window: int = 60,
                         lock_seconds: int = 2) -> int:
        """/admin behind HTTP Basic served by the hardened lab device's login stand-in (its CGI,
        probe/lab/templates/www/hardened-gateway/cgi-bin/admin.py): `lockout_after` failures within
        `window` s lock the client out for `lock_seconds` (429 with Retry-After, even for the right
        password); 0.5 s delay per failure."""
        d = self._dir("lighttpd-lockout")
        d.chmod(0o755)
        etc = d / "etc"
        etc.mkdir()
        state = d / "lockout"
        state.mkdir()
        state.chmod(0o777)  # the CGI runs as lighttpd's user
        (etc / "admin-auth.json").write_text(json.dumps({
            "user": TEST_USER, "password": password, "realm": "lockout test", "model": "Lockout Test",
            "max_failures": lockout_after, "window": window, "lock_seconds": lock_seconds,
            "state": str(state / "state.json")}))
        (etc / "admin-auth.json").chmod(0o644)
        template = REPO_ROOT / "probe/lab/templates/www/hardened-gateway/cgi-bin/admin.py"
        cgi = template.read_text().replace("@{etc}", str(etc))
        return self.lighttpd({"/index.html": "<html><body><h1>Gateway</h1></body></html>\n",
                              "/cgi-bin/admin.py": cgi},
                             conf=['server.modules += ("mod_cgi", "mod_rewrite")',
                                   'cgi.assign = (".py" => "/usr/bin/python3")',
                                   'url.rewrite-once = ("^/admin(/[^?]*)?(\\?.*)?$" => "/cgi-bin/admin.py$2")'])

    # -- MQTT, SNMP, DNS -----------------------------------------------------------------------
    def mosquitto(self, *, anonymous: bool, password: str = TEST_PASSWORD) -> int:
        d = self._dir("mosquitto")
        port = free_port()
        lines = [f"listener {port} {LOOPBACK}", f"allow_anonymous {'true' if anonymous else 'false'}",
                 "persistence false", "log_dest stdout"]
        if not anonymous:
            # mosquitto drops to its own user before reading the password file, and pytest's
            # tmp_path parents are 0700: the file lives in a world-traversable directory of its own
            pwdir = Path(tempfile.mkdtemp(prefix="probe-mqtt-"))
            pwdir.chmod(0o755)
            self.cleanup_paths.append(pwdir)
            pw = pwdir / "mqtt.passwd"
            pw.touch()
            subprocess.run(["mosquitto_passwd", "-b", str(pw), TEST_USER, password], check=True, capture_output=True,
                           timeout=30)
            pw.chmod(0o644)
            lines.append(f"password_file {pw}")
        (d / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self.start(["mosquitto", "-c", str(d / "mosquitto.conf")], port=port)
        return port

    def snmpd(self, *, ro: str | None = "public", rw: str | None = None, sys_descr: str | None = None,
              extra: Sequence[str] = ()) -> int:
        """net-snmp's agent on a UDP port; ready when it answers net-snmp's own snmpget (with the
        read-only community, or, for an agent without one, SNMPv3 engine discovery: "Unknown user
        name" is the agent's answer). `extra`: more snmpd.conf lines (VACM, createUser...)."""
        d = self._dir("snmpd")
        port = free_port("udp")
        lines = ["sysLocation probe-test-lab"]
        if ro:
            lines.append(f"rocommunity {ro} {LOOPBACK}")
        if rw:
            lines.append(f"rwcommunity {rw} {LOOPBACK}")
        if sys_descr:
            lines.append(f"sysDescr {sys_descr}")
        (d / "snmpd.conf").write_text("\n".join([*lines, *extra]) + "\n")
        env = snmp_env(d)
        ask = ["-v2c", "-c", ro] if ro else ["-v3", "-l", "noAuthNoPriv", "-u", "probe-ready-check"]

        def answers(proc: subprocess.Popen[bytes]) -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                r = subprocess.run(["snmpget", *ask, "-t", "0.3", "-r", "0", f"udp:{LOOPBACK}:{port}",
                                    "1.3.6.1.2.1.1.5.0"], capture_output=True, env=env, timeout=10)
                if r.returncode == 0 or (not ro and b"Unknown user name" in r.stderr):
                    return
                if proc.poll() is not None:
                    raise RuntimeError("snmpd exited early")
            raise RuntimeError(f"snmpd did not answer on udp:{LOOPBACK}:{port}")

        self.start(["snmpd", "-f", "-Lo", "-C", "-c", str(d / "snmpd.conf"), "-p", str(d / "snmpd.pid"),
                    f"udp:{LOOPBACK}:{port}"], env=env, ready=answers)
        return port

    # -- UDP services consumer devices expose ---------------------------------------------------
    def _udp_ready(self, name: str, port: int, answered: Callable[[], bool]) -> Callable[[subprocess.Popen[bytes]],
                                                                                          None]:
        """A readiness check for a UDP daemon: `answered()` (one bounded request of its protocol) until true."""
        def ready(proc: subprocess.Popen[bytes]) -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if answered():
                    return
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early")
                time.sleep(0.05)
            raise RuntimeError(f"{name} did not answer on udp:{LOOPBACK}:{port}")
        return ready

    def tftpd(self, files: Mapping[str, str | bytes]) -> int:
        """tftpd-hpa serving `files` (name -> content) read-only from its own directory (-s: chroot
        into it; no -c, so no file can be created)."""
        from probe.protocols import tftp
        d = self._dir("tftpd")
        root = write_tree(d / "root", files)
        port = free_port("udp")
        probe_name = "probe-ready-check-missing"
        self.start(["in.tftpd", "-L", "-a", f"{LOOPBACK}:{port}", "-u", "root", "-s", str(root)],
                   ready=self._udp_ready("in.tftpd", port, lambda: tftp.read_first_block(
                       LOOPBACK, probe_name, port=port, timeout=0.2, attempts=1).answer is not None))
        return port

    def coap_server(self) -> int:
        """libcoap's example server (coap-server-notls): /, /time, /async and /example_data, listed
        at /.well-known/core with no security (plain CoAP)."""
        from probe.protocols import coap
        port = free_port("udp")
        self.start(["coap-server-notls", "-A", LOOPBACK, "-p", str(port)],
                   ready=self._udp_ready("coap-server", port, lambda: coap.get(
                       LOOPBACK, port, "/.well-known/core", timeout=0.2, attempts=1).response is not None))
        return port

    def ubnt_responder(self, mac: str, firmware: str, model: str) -> int:
        """probe's lab stand-in for a Ubiquiti discovery responder (probe/lab/ubnt_discovery.py)."""
        import sys

        from probe.protocols import ubnt
        port = free_port("udp")
        self.start([sys.executable, "-m", "probe.lab.ubnt_discovery", "--bind", LOOPBACK, "--port", str(port),
                    "--mac", mac, "--firmware", firmware, "--hostname", "probe-test", "--model", model,
                    "--lifetime", "300"],
                   ready=self._udp_ready("ubnt-discovery", port, lambda: ubnt.ask(
                       LOOPBACK, port, timeout=0.2, attempts=1)[2] is not None))
        return port

    def adb_standin(self, mode: str = "open") -> int:
        """probe's lab stand-in for adbd (probe/lab/adb_standin.py; Debian has no adbd): `open` answers
        CNXN and evaluates only `shell:echo`, `auth` answers every connect with an AUTH token."""
        import sys
        port = free_port()
        self.start([sys.executable, "-m", "probe.lab.adb_standin", "--bind", LOOPBACK, "--port", str(port),
                    "--mode", mode, "--lifetime", "300", "--max-clients", "100"], port=port)
        return port

    def dnsmasq(self) -> int:
        """dnsmasq answering DNS on one port, over UDP and TCP."""
        d = self._dir("dnsmasq")
        port = free_port()
        self.start(["dnsmasq", "-k", "-p", str(port), f"--listen-address={LOOPBACK}", "--bind-interfaces", "-C",
                    "/dev/null", "--no-resolv", "--no-hosts", f"--pid-file={d}/dnsmasq.pid"], port=port)
        return port

    # -- TLS -----------------------------------------------------------------------------------
    def s_server(self, cert: Path, key: Path, *args: str) -> int:
        """`openssl s_server` with this certificate and the given protocol/cipher options."""
        port = free_port()
        self.start(["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-cert", str(cert), "-key", str(key),
                    "-quiet", *args], port=port)
        return port


def snmp_env(state_dir: Path) -> dict[str, str]:
    """net-snmp tools' environment: no MIB loading, persistent state kept out of /var/lib/snmp."""
    return dict(os.environ, SNMP_PERSISTENT_DIR=str(state_dir / "snmp-persist"), MIBS="")
