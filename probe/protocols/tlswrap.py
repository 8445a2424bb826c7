"""TLS as a transport for application checks (MQTT over TLS, HTTPS logins).

These checks test what runs *inside* TLS, so the client accepts whatever the device offers
(self-signed certificates, old versions): judging the TLS itself is tls_configuration's and
tls_certificate's job. One distinction matters for the verdicts: a server that demands a client
certificate before anything else offers no password login at all. With TLS 1.3 the server says
so only on the first read after the handshake, so callers classify the SSLError they catch
with `needs_client_certificate` wherever it surfaces.
"""

from __future__ import annotations

import functools
import socket
import ssl

_CERT_REQUIRED_MARKERS = ("certificate required", "peer did not return a certificate")


@functools.cache
def permissive_context() -> ssl.SSLContext:
    """The accept-anything client context, one per process and shared by every connection: do not
    modify it (new_permissive_context gives one to modify).

    Why shared: building an SSLContext costs ~0.15 ms of CPU (OpenSSL 3 sets up its algorithms for
    every new SSL_CTX), and a run opens ~150 TLS connections per lab gateway (web logins, status
    pages, fingerprint paths). wrap_socket on one context from many threads is safe: each
    connection gets its own SSL object."""
    return new_permissive_context()


def new_permissive_context() -> ssl.SSLContext:
    """A fresh client context that accepts whatever the device offers (any certificate, any version)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    except (ssl.SSLError, ValueError):
        pass
    return ctx


ALERT_WAIT = 0.3  # seconds to wait for a post-handshake TLS 1.3 alert


def wrap(sock: socket.socket, timeout: float, *, client_speaks_first: bool = False) -> ssl.SSLSocket:
    """Handshake over an open socket.

    client_speaks_first: for protocols where the server never sends first (MQTT, HTTP). A TLS 1.3
    server that wants a client certificate sends its alert right after the handshake and closes;
    if our first request is already on its way, the close becomes a reset and the alert is lost.
    So we wait briefly for anything the server says before speaking; the protocol guarantees
    the only thing that can arrive is an alert (anything else is a protocol violation).
    """
    sock.settimeout(timeout)
    tls = permissive_context().wrap_socket(sock)
    if client_speaks_first and tls.version() == "TLSv1.3":
        tls.settimeout(ALERT_WAIT)
        try:
            early = tls.recv(1)
        except TimeoutError:
            early = None
        tls.settimeout(timeout)
        if early == b"":
            raise ConnectionResetError("the server closed the connection right after the TLS handshake")
        if early:
            raise ValueError("the server sent data before the client's first request")
    return tls


def needs_client_certificate(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLError) and any(m in str(exc).lower() for m in _CERT_REQUIRED_MARKERS)


CLIENT_CERT_REASON = ("the service demands a TLS client certificate before any credential is read: "
                      "no password login is offered to a client without one")
