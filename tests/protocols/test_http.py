"""probe.protocols.http.Client, the one HTTP client, against real servers on loopback: lighttpd,
`openssl s_server -www` with a certificate from probe's own lab PKI, and the hostile `stall` server.

The wire reader's edge cases (where one response ends) are in tests/test_http_wire.py; the
login trials and page reads that sit on this client run against lighttpd in tests/auth/ and
tests/update/.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from probe.hostile import BY_NAME
from probe.lab import pki
from probe.protocols import http
from probe.protocols.transcript import Transcript
from tests.helpers.daemons import LocalDaemons
from tests.helpers.ports import free_port

HOST = "127.0.0.1"


def _connect(port: int) -> Callable[[], contextlib.AbstractContextManager[socket.socket]]:
    @contextlib.contextmanager
    def connect() -> Iterator[socket.socket]:
        with socket.create_connection((HOST, port), timeout=3) as s:
            yield s
    return connect


@pytest.fixture
def lighttpd(daemons: LocalDaemons, tmp_path: Path) -> int:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<html><title>gateway</title></html>\n")
    port = free_port()
    conf = tmp_path / "lighttpd.conf"
    conf.write_text(f'server.document-root = "{www}"\nserver.bind = "{HOST}"\nserver.port = {port}\n'
                    f'server.errorlog = "{tmp_path}/error.log"\nindex-file.names = ("index.html")\n'
                    'mimetype.assign = (".html" => "text/html")\n')
    daemons.start(["lighttpd", "-D", "-f", str(conf)], port=port)
    return port


@pytest.fixture
def s_server(daemons: LocalDaemons, tmp_path: Path) -> tuple[int, pki.Issued, pki.Issued]:
    ca = pki.make_ca(tmp_path / "ca", "http client test")
    leaf = pki.make_leaf(tmp_path / "leaf", ca, HOST, HOST, "probe tests")
    port = free_port()
    daemons.start(["openssl", "s_server", "-accept", f"{HOST}:{port}", "-cert", str(leaf.cert), "-key", str(leaf.key),
                   "-www", "-quiet"], port=port)
    return port, ca, leaf


def test_get_records_the_exchange_in_the_transcript(lighttpd: int) -> None:
    t = Transcript("http", HOST, lighttpd)
    c = http.Client(_connect(lighttpd), HOST, lighttpd, False, t, timeout=3, body_in_transcript=10)
    r = c.request("GET", "/")
    assert r.status == 200 and b"<title>gateway</title>" in r.body and r.tls_verified is None
    assert c.request("GET", "/nothing-here").status == 404 and c.requests == 2
    text = t.text()
    assert ">> GET / HTTP/1.1\\r\\n" in text and "Connection: close" in text
    assert "<< HTTP/1.1 200 OK" in text and "more bytes]" in text  # the body beyond 10 bytes is not copied


def test_https_without_verification_reads_and_says_so(s_server: tuple[int, pki.Issued, pki.Issued]) -> None:
    port, _ca, leaf = s_server
    ex = http.Client(_connect(port), HOST, port, True, timeout=3).exchange("GET", "/")
    assert ex.response is not None and ex.response.status == 200 and ex.response.tls_verified is False
    assert ex.tls_verified is None  # nothing was verified, so nothing is claimed
    assert ex.peer_cert == x509.load_pem_x509_certificate(leaf.cert.read_bytes()).public_bytes(Encoding.DER)


def test_verification_is_an_observation(s_server: tuple[int, pki.Issued, pki.Issued]) -> None:
    port, ca, _leaf = s_server
    trusting = ssl.create_default_context(cafile=str(ca.cert))
    ok = http.Client(_connect(port), HOST, port, True, timeout=3, verify=trusting).exchange("GET", "/")
    assert ok.tls_verified is True and ok.response is not None and ok.response.tls_verified is True
    bad = http.Client(_connect(port), HOST, port, True, timeout=3, verify=ssl.create_default_context())
    ex = bad.exchange("GET", "/")
    assert ex.tls_verified is False and ex.response is None and not ex.sent
    assert ex.error is not None and ex.error.startswith("certificate not valid")
    with pytest.raises(ssl.SSLCertVerificationError):  # request() raises what the handshake raised
        bad.request("GET", "/")


def test_stall_guard_stops_asking_a_silentfree_port() -> None:
    with BY_NAME["stall"](HOST, 0) as stall:
        guard = http.StallGuard()
        c = http.Client(_connect(stall.port), HOST, stall.port, False, Transcript("http", HOST, stall.port),
                        timeout=0.4, stalls=guard)
        for _ in range(http.STALL_LIMIT):
            with pytest.raises(ValueError, match=http.NO_RESPONSE):
                c.request("GET", "/")
        with pytest.raises(ValueError, match="stalled"):
            c.request("GET", "/")
        # the guard is the policy, whoever holds it: a second client sharing it does not connect either
        other = http.Client(_connect(stall.port), HOST, stall.port, False, timeout=0.4, stalls=guard)
        assert not other.exchange("GET", "/other").sent
        assert stall.connections == http.STALL_LIMIT and c.requests == http.STALL_LIMIT
        assert "not sent" in (c.transcript.text() if c.transcript else "")


def test_an_answer_resets_the_stall_count(lighttpd: int) -> None:
    guard = http.StallGuard()
    where = (HOST, lighttpd, False)
    guard.record(where, http.RawRead(b"", True))
    c = http.Client(_connect(lighttpd), HOST, lighttpd, False, timeout=3, stalls=guard)
    assert c.request("GET", "/").status == 200
    guard.record(where, http.RawRead(b"", True))
    assert guard.blocked(where) is None  # one silent read after an answer is not a stall

