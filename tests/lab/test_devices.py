"""Each daemon of each lab variant answers a real protocol exchange from the root namespace.

Order matters in one place: the hardened admin lockout test runs last in this module, because
it locks the test host out of the admin UI for the variant's lockout period.
"""

from __future__ import annotations

import datetime as dt
import ftplib
import json
import re
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import paramiko
import pytest

from probe.lab import LabDevice
from tests.helpers import wire

pytestmark = pytest.mark.lab
T = wire.TIMEOUT


def http_get(url: str, auth: tuple[str, str] | None = None, digest: bool = False,
             context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str], bytes]:
    handlers: list[urllib.request.BaseHandler] = [urllib.request.HTTPSHandler(context=context)]
    if auth:
        mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        mgr.add_password(None, url, *auth)
        handlers.append(urllib.request.HTTPDigestAuthHandler(mgr) if digest
                        else urllib.request.HTTPBasicAuthHandler(mgr))

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: object, **k: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect, *handlers)
    try:
        with opener.open(url, timeout=T) as resp:
            return resp.status, dict(resp.headers), resp.read(65536)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read(65536)


def ssh_exec(dev: LabDevice, port: int, user: str, password: str | None = None,
             key: str | None = None) -> tuple[int, str]:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(dev.address, port=port, username=user, password=password, key_filename=key,
                       timeout=T, banner_timeout=T, auth_timeout=T, allow_agent=False, look_for_keys=False)
        _, out, err = client.exec_command("id", timeout=T)
        text = out.read(4096).decode() + err.read(4096).decode()
        return out.channel.recv_exit_status(), text
    finally:
        client.close()


def telnet_login(dev: LabDevice, user: str, password: str) -> bytes:
    with socket.create_connection((dev.address, 23), timeout=T) as s:
        prompt = wire.telnet_read(s, b"login: ")
        assert b"login: " in prompt
        s.sendall(user.encode() + b"\r\n")
        assert b"assword" in wire.telnet_read(s, b"assword: ")
        s.sendall(password.encode() + b"\r\n")
        out = wire.telnet_read(s, b"$ ")
        s.sendall(b"exit\r\n")
        return prompt + out


# ------------------------------------------------------------------------------ weak gateway

def test_weak_ssh_dropbear_accepts_default_password_into_fake_shell(weak: LabDevice) -> None:
    with socket.create_connection((weak.address, 22), timeout=T) as s:
        assert wire.recv_until(s, b"\n").startswith(b"SSH-2.0-dropbear")
    code, text = ssh_exec(weak, 22, "admin", "admin")
    assert code == 127 and "id: not found" in text  # logged in, and the shell ran nothing


def test_weak_legacy_sshd_offers_sha1_kex_cbc_and_dss(weak: LabDevice) -> None:
    banner, lists = wire.ssh_kexinit(weak.address, 2222)
    assert banner.startswith("SSH-2.0-OpenSSH")
    assert {"diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1"} <= set(lists["kex"])
    assert {"aes128-cbc", "3des-cbc"} <= set(lists["enc_s2c"])
    assert {"hmac-sha1", "hmac-md5"} <= set(lists["mac_s2c"])
    assert {"ssh-rsa", "ssh-dss"} <= set(lists["hostkey"])
    code, text = ssh_exec(weak, 2222, "root", "root")
    assert code == 127 and "not found" in text


def test_weak_telnet_login_with_default_credentials(weak: LabDevice) -> None:
    out = telnet_login(weak, "admin", "admin")
    assert b"ACME WR-1000" in out  # issue.net banner with the model
    assert b"admin@wr1000:~$ " in out


def test_weak_http_basic_auth_in_cleartext_and_model_page(weak: LabDevice) -> None:
    status, headers, _ = http_get(f"http://{weak.address}/admin/")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, _, body = http_get(f"http://{weak.address}/admin/", auth=("admin", "admin"))
    assert status == 200 and b"administration" in body
    status, _, body = http_get(f"http://{weak.address}/")
    assert re.search(rb"<title>ACME WR-1000[^<]*</title>", body)


def test_weak_firmware_endpoints_over_plain_http_and_no_security_txt(weak: LabDevice) -> None:
    status, _, body = http_get(f"http://{weak.address}/api/version")
    info = json.loads(body)
    assert status == 200 and info["model"] == "WR-1000" and info["update_check_url"].startswith("http://")
    status, _, body = http_get(info["update_check_url"])
    assert status == 200 and json.loads(body)["image_url"].startswith("http://")
    assert http_get(f"http://{weak.address}/.well-known/security.txt")[0] == 404


def test_weak_tls10_accepted_with_expired_1024_bit_cert(weak: LabDevice) -> None:
    res = wire.openssl_client(weak.address, 8443, "-tls1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert re.search(r"Protocol\s*:\s*TLSv1\s*$", res.stdout, re.M), res.stdout[-500:]
    assert "Server public key is 1024 bit" in res.stdout
    assert "certificate has expired" in res.stdout


def test_weak_ftp_anonymous_and_default_login(weak: LabDevice) -> None:
    with ftplib.FTP(weak.address, timeout=T) as ftp:
        assert "ACME WR-1000" in ftp.getwelcome()
        assert ftp.login().startswith("230")
    with ftplib.FTP(weak.address, timeout=T) as ftp:
        assert ftp.login("admin", "admin").startswith("230")
        assert ftp.pwd() == "/"  # chrooted into the device's empty FTP root


def test_weak_mqtt_accepts_anonymous_client(weak: LabDevice) -> None:
    with socket.create_connection((weak.address, 1883), timeout=T) as s:
        assert wire.mqtt_connack(s, wire.mqtt_connect_packet("lab-test")) == 0


def test_weak_snmp_public_and_private_communities(weak: LabDevice) -> None:
    for community in ("public", "private"):
        res = wire.snmpget(["-v2c", "-c", community, weak.address, "1.3.6.1.2.1.1.1.0"])
        assert "ACME WR-1000" in res.stdout, res.stderr


def test_weak_upnp_answers_unicast_msearch_and_status_action(weak: LabDevice) -> None:
    msg = (b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n"
           b"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(T)
        s.sendto(msg, (weak.address, 1900))  # unicast to the device, never multicast from here
        reply, _ = s.recvfrom(2048)
    location = re.search(rb"(?im)^location:\s*(\S+)", reply)
    assert reply.startswith(b"HTTP/1.1 200") and location
    url = location.group(1).decode()
    assert url.startswith(f"http://{weak.address}:")
    status, _, desc = http_get(url)
    assert status == 200 and b"ACME WR-1000" in desc and b"WANIPConnection" in desc
    control = re.search(rb"<serviceType>urn:schemas-upnp-org:service:WANIPConnection:\d</serviceType>"
                        rb".*?<controlURL>([^<]+)</controlURL>", desc, re.S)
    assert control
    body = ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
            '<u:GetStatusInfo xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"/></s:Body></s:Envelope>')
    action = '"urn:schemas-upnp-org:service:WANIPConnection:1#GetStatusInfo"'
    req = urllib.request.Request(url.split("/rootDesc")[0] + control.group(1).decode(), data=body.encode(),
                                 headers={"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": action})
    with urllib.request.urlopen(req, timeout=T) as resp:
        assert resp.status == 200 and b"NewConnectionStatus" in resp.read(8192)


def test_weak_dns_answers_local_name(weak: LabDevice) -> None:
    assert wire.dns_query_a(weak.address, "router.lan") == [weak.address]


# -------------------------------------------------------------------------- hardened gateway

def _trusting(dev: LabDevice) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=dev.ca_cert)
    return ctx


def test_hardened_ssh_modern_algorithms_only_and_key_only(hardened: LabDevice) -> None:
    banner, lists = wire.ssh_kexinit(hardened.address, 22)
    assert banner.startswith("SSH-2.0-OpenSSH")
    assert not any("sha1" in k or "group1" in k for k in lists["kex"])
    assert not any(c.endswith("-cbc") for c in lists["enc_s2c"])
    assert all(m.endswith("-etm@openssh.com") for m in lists["mac_s2c"])
    assert lists["hostkey"] == ["ssh-ed25519"]
    with pytest.raises(paramiko.BadAuthenticationType) as err:
        ssh_exec(hardened, 22, "admin", hardened.password("system", "admin"))
    assert err.value.allowed_types == ["publickey"]
    code, text = ssh_exec(hardened, 22, "admin", key=hardened.ssh_key)
    assert code == 127 and "not found" in text


def test_hardened_http_redirects_to_https(hardened: LabDevice) -> None:
    status, headers, _ = http_get(f"http://{hardened.address}/admin/")
    assert status == 301 and headers["Location"] == f"https://{hardened.address}/admin/"


def test_hardened_tls12_with_lab_ca_and_tls11_refused(hardened: LabDevice) -> None:
    ctx = _trusting(hardened)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection((hardened.address, 443), timeout=T) as raw:
        with ctx.wrap_socket(raw, server_hostname=hardened.address) as tls:
            assert tls.version() == "TLSv1.2"
    res = wire.openssl_client(hardened.address, 443, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert "alert protocol version" in res.stderr or "no protocols available" in res.stderr, res.stderr[-300:]
    assert "Cipher is (NONE)" in res.stdout  # no TLS 1.1 session was made


def test_hardened_security_txt_and_https_update_check(hardened: LabDevice) -> None:
    ctx = _trusting(hardened)
    status, _, body = http_get(f"https://{hardened.address}/.well-known/security.txt", context=ctx)
    text = body.decode()
    assert status == 200 and re.search(r"(?m)^Contact: mailto:", text) and "Policy:" in text
    expires = re.search(r"(?m)^Expires: (\S+)$", text)
    assert expires and dt.datetime.fromisoformat(expires.group(1).replace("Z", "+00:00")) > dt.datetime.now(dt.UTC)
    status, _, body = http_get(f"https://{hardened.address}/api/update-check", context=ctx)
    assert status == 200 and json.loads(body)["image_url"].startswith("https://")


def test_hardened_admin_login_with_unique_password(hardened: LabDevice) -> None:
    ctx = _trusting(hardened)
    status, headers, _ = http_get(f"https://{hardened.address}/admin/", context=ctx)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    password = hardened.password("web", "admin")
    assert password not in ("admin", "password", "1234") and len(password) >= 12
    status, _, body = http_get(f"https://{hardened.address}/admin/", auth=("admin", password), context=ctx)
    assert status == 200 and b"Administration" in body


def test_hardened_mqtt_needs_client_cert_and_password(hardened: LabDevice) -> None:
    assert hardened.client_cert and hardened.client_key
    ctx = _trusting(hardened)
    ctx.load_cert_chain(hardened.client_cert, hardened.client_key)
    user, password = "iot", hardened.password("mosquitto", "iot")
    for pw, expected in ((password, 0), ("wrong", 5)):
        with socket.create_connection((hardened.address, 8883), timeout=T) as raw:
            with ctx.wrap_socket(raw, server_hostname=hardened.address) as tls:
                assert wire.mqtt_connack(tls, wire.mqtt_connect_packet("lab-test", user, pw)) == expected
    bare = _trusting(hardened)  # no client certificate: the broker ends the handshake
    with socket.create_connection((hardened.address, 8883), timeout=T) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with bare.wrap_socket(raw, server_hostname=hardened.address) as tls:
                wire.mqtt_connack(tls, wire.mqtt_connect_packet("lab-test", user, password))


def test_hardened_snmpv3_only(hardened: LabDevice) -> None:
    auth, priv = hardened.password("snmp", "labadmin"), hardened.password("snmp-priv", "labadmin")
    res = wire.snmpget(["-v3", "-l", "authPriv", "-u", "labadmin", "-a", "SHA-256", "-A", auth,
                        "-x", "AES", "-X", priv, hardened.address, "1.3.6.1.2.1.1.1.0"])
    assert "ACME WR-2000" in res.stdout, res.stderr
    res = wire.snmpget(["-v2c", "-c", "public", hardened.address, "1.3.6.1.2.1.1.1.0"])
    assert res.returncode != 0 and "Timeout" in res.stderr


@pytest.mark.parametrize("port", [21, 23, 1883, 8443])
def test_hardened_closed_ports_drop_silently(hardened: LabDevice, port: int) -> None:
    with socket.socket() as s:
        s.settimeout(1.5)
        with pytest.raises(socket.timeout):  # dropped: no RST (that would be ConnectionRefused)
            s.connect((hardened.address, port))


# ------------------------------------------------------------------------------------ camera

def test_camera_digest_auth_default_account_and_model_title(camera: LabDevice) -> None:
    status, _, body = http_get(f"http://{camera.address}/")
    assert status == 200 and re.search(rb"<title>ACME IPC-200[^<]*</title>", body)
    status, headers, _ = http_get(f"http://{camera.address}/live/")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Digest")
    assert "algorithm=MD5" in headers["WWW-Authenticate"]
    status, _, body = http_get(f"http://{camera.address}/live/", auth=("admin", "12345"), digest=True)
    assert status == 200 and b"Live view" in body


def test_camera_rtsp_answers_options(camera: LabDevice) -> None:
    with socket.create_connection((camera.address, 554), timeout=T) as s:
        s.sendall(f"OPTIONS rtsp://{camera.address}:554/live RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        reply = wire.recv_until(s, b"\r\n\r\n")
    assert reply.startswith(b"RTSP/1.0 200") and b"CSeq: 1" in reply


# --------------------------------------------------------------------------- media NAS

def test_nas_guest_share_listed_by_smbclient(nas: LabDevice) -> None:
    out = subprocess.run(["smbclient", "-N", "-g", "-L", f"//{nas.address}"], capture_output=True, text=True,
                         timeout=30).stdout
    assert "Disk|Public|Recordings and media" in out
    ls = subprocess.run(["smbclient", "-N", f"//{nas.address}/Public", "-c", "ls"], capture_output=True, text=True,
                        timeout=30).stdout
    assert "README.txt" in ls and "Videos" in ls


def test_nas_media_server_lists_and_webdav_answers(nas: LabDevice) -> None:
    status, _, body = http_get(f"http://{nas.address}:9000/")
    assert status == 200 and b"<title>Index of /</title>" in body and b"Photos/" in body
    with socket.create_connection((nas.address, 9000), timeout=T) as s:
        s.sendall(f"PROPFIND / HTTP/1.1\r\nHost: {nas.address}:9000\r\nDepth: 1\r\nContent-Length: 0\r\n"
                  "Connection: close\r\n\r\n".encode())
        reply = wire.recv_until(s, b"</D:multistatus>")
    assert reply.startswith(b"HTTP/1.1 207") and b"/Videos/" in reply


def test_nas_snapshot_status_and_settings(nas: LabDevice) -> None:
    status, headers, body = http_get(f"http://{nas.address}/tmpfs/snap.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and body.startswith(b"\xff\xd8\xff")
    status, _, body = http_get(f"http://{nas.address}/cgi-bin/sysinfo.cgi")
    assert status == 200 and json.loads(body)["lanMac"] == "02:4e:56:40:38:01"
    status, headers, _ = http_get(f"http://{nas.address}/admin/")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, _, _ = http_get(f"http://{nas.address}/admin/", auth=("admin", nas.password("web", "admin")))
    assert status == 200


def test_nas_rtsp_on_port_88_and_console_and_binary_hello(nas: LabDevice) -> None:
    with socket.create_connection((nas.address, 88), timeout=T) as s:
        s.sendall(f"DESCRIBE rtsp://{nas.address}:88/videoMain RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        reply = wire.recv_until(s, b"\r\n\r\n")
    assert reply.startswith(b"RTSP/1.0 200")
    with socket.create_connection((nas.address, 8023), timeout=T) as s:
        greeting = wire.recv_until(s, b"~ # ")
        s.sendall(b"id\n")
        answer = wire.recv_until(s, b"~ # ")
    assert b"BusyBox" in greeting and b"-sh: id: not found" in answer  # a fake shell: nothing runs
    with socket.create_connection((nas.address, 8000), timeout=T) as s:
        hello = s.recv(64)
    assert hello[:8] == b"\x00\x00\x00\x18\xa5\x5aNV"


# --------------------------------------------------------------------------- consumer router

def _unverified() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the router's own self-signed certificate, as shipped
    return ctx


def test_router_ssh_stock_dropbear_with_the_per_device_password(router: LabDevice) -> None:
    banner, lists = wire.ssh_kexinit(router.address, 22)
    assert banner.startswith("SSH-2.0-dropbear")
    assert "diffie-hellman-group14-sha1" in lists["kex"] and "ssh-rsa" in lists["hostkey"]
    code, text = ssh_exec(router, 22, "admin", router.password("system", "admin"))
    assert code == 127 and "not found" in text
    for user, password in (("admin", "admin"), ("root", router.password("system", "admin"))):
        with pytest.raises(paramiko.AuthenticationException):
            ssh_exec(router, 22, user, password)


def test_router_admin_ui_on_https_with_its_own_certificate_and_digest_login(router: LabDevice) -> None:
    from cryptography import x509
    status, headers, _ = http_get(f"http://{router.address}/webui/")
    assert status == 302 and headers["Location"] == f"https://{router.address}/webui/"
    with socket.create_connection((router.address, 443), timeout=T) as raw:
        with _unverified().wrap_socket(raw) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True) or b"")
    assert cert.issuer == cert.subject and cert.public_key().key_size == 2048
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["hg3100.lan", "router.lan"]
    status, headers, _ = http_get(f"https://{router.address}/webui/", context=_unverified())
    assert status == 401 and headers["WWW-Authenticate"].startswith("Digest")
    password = router.password("web", "admin")
    status, _, body = http_get(f"https://{router.address}/webui/firmware.html", auth=("admin", password),
                               digest=True, context=_unverified())
    assert status == 200 and b"Upgrade" in body
    assert http_get(f"https://{router.address}/webui/", auth=("admin", "admin"), digest=True,
                    context=_unverified())[0] == 401


def test_router_public_status_names_the_vendor_update_server_and_security_txt_expired(router: LabDevice) -> None:
    status, _, body = http_get(f"https://{router.address}/data/device.json", context=_unverified())
    info = json.loads(body)
    assert status == 200 and info["productName"] == "HG-3100"
    assert info["autoUpdate"]["server"].startswith("https://fwupdate.nordlys.example/")  # never contacted
    status, _, body = http_get(f"https://{router.address}/.well-known/security.txt", context=_unverified())
    expires = re.search(r"(?m)^Expires: (\S+)$", body.decode())
    assert status == 200 and expires
    assert dt.datetime.fromisoformat(expires.group(1).replace("Z", "+00:00")) < dt.datetime.now(dt.UTC)


def test_router_tr069_connection_request_needs_the_acs_digest(router: LabDevice) -> None:
    url = f"http://{router.address}:7547/"
    status, headers, _ = http_get(url)
    assert status == 401 and headers["WWW-Authenticate"].startswith('Digest realm="HG-3100 CWMP"')
    assert http_get(url, auth=("admin", router.password("web", "admin")), digest=True)[0] == 401
    status, _, body = http_get(url, auth=("acs", router.password("web", "acs")), digest=True)
    assert status == 200 and body == b""


def test_router_mqtt_needs_the_per_device_password(router: LabDevice) -> None:
    tries = ((None, None, 5), ("hub", "hub", 5), ("hub", router.password("mosquitto", "hub"), 0))
    for user, password, expected in tries:
        with socket.create_connection((router.address, 1883), timeout=T) as s:
            assert wire.mqtt_connack(s, wire.mqtt_connect_packet("lab-test", user, password)) == expected


def test_router_snmp_answers_only_its_per_device_community(router: LabDevice) -> None:
    community = router.password("snmp", "community")
    res = wire.snmpget(["-v2c", "-c", community, router.address, "1.3.6.1.2.1.1.1.0"])
    assert "Nordlys HG-3100" in res.stdout, res.stderr
    for other in ("public", "private"):
        res = wire.snmpget(["-v2c", "-c", other, router.address, "1.3.6.1.2.1.1.1.0"])
        assert res.returncode != 0 and "Timeout" in res.stderr


def test_router_upnp_and_nat_pmp_answer_on_the_lan(router: LabDevice) -> None:
    msg = (b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n"
           b"ST: upnp:rootdevice\r\n\r\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(T)
        s.sendto(msg, (router.address, 1900))  # unicast to the device, never multicast from here
        reply, _ = s.recvfrom(2048)
        s.sendto(b"\x00\x00", (router.address, 5351))  # NAT-PMP: external address request
        natpmp, _ = s.recvfrom(64)
    assert f"LOCATION: http://{router.address}:49152/rootDesc.xml".encode() in reply
    status, _, desc = http_get(f"http://{router.address}:49152/rootDesc.xml")
    assert status == 200 and b"<modelName>HG-3100</modelName>" in desc
    assert natpmp[:2] == b"\x00\x80"  # version 0, answer to opcode 0 (result: no public address here)


# ------------------------------------------------------------- last: it locks the test host out

def test_hardened_admin_locks_out_after_repeated_failures(hardened: LabDevice) -> None:
    ctx = _trusting(hardened)
    url = f"https://{hardened.address}/admin/"
    codes = [http_get(url, auth=("admin", f"wrong{i}"), context=ctx)[0] for i in range(10)]
    assert codes == [401] * 10
    status, headers, _ = http_get(url, auth=("admin", hardened.password("web", "admin")), context=ctx)
    assert status == 429 and int(headers["Retry-After"]) > 0  # even the right password is refused


# -- smart hub: each UDP daemon answers its own protocol's client (not probe's code) ------------
def test_hub_ntp_control_queries_open_to_the_lan(hub: LabDevice) -> None:
    out = subprocess.run(["ntpq", "-c", "rv", hub.address], capture_output=True, text=True, timeout=30)
    assert "version=\"ntpd ntpsec-" in out.stdout and "system=" in out.stdout, out.stdout + out.stderr


def test_hub_coap_lists_resources_and_tftp_serves_config(hub: LabDevice, tmp_path: Path) -> None:
    out = subprocess.run(["coap-client-notls", "-B", "5", "-m", "get", f"coap://{hub.address}/.well-known/core"],
                         capture_output=True, text=True, timeout=30)
    assert "</time>" in out.stdout, out.stdout + out.stderr
    got = tmp_path / "config.bin"
    subprocess.run(["busybox", "tftp", "-g", "-r", "config.bin", "-l", str(got), hub.address], check=True,
                   capture_output=True, timeout=30)
    assert "psk=" in got.read_text()
    missing = subprocess.run(["busybox", "tftp", "-g", "-r", "no-such-file", "-l", str(tmp_path / "x"), hub.address],
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode != 0 and "not found" in missing.stderr.lower()


def test_hub_status_page_bundle_names_the_update_check(hub: LabDevice) -> None:
    status, _, body = http_get(f"http://{hub.address}/")
    assert status == 200 and b"SH-10" in body and b"/static/js/app.8c1f4e.js" in body
    status, _, js = http_get(f"http://{hub.address}/static/js/app.8c1f4e.js")
    assert status == 200 and b'otaCheckUrl:"http://ota.lumora.example/' in js
    with pytest.raises(ConnectionRefusedError):  # CoAP over TCP refused: the hub speaks UDP only
        socket.create_connection((hub.address, 5683), timeout=T).close()
