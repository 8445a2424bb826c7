"""A real SSH server (paramiko's server side) that serves DH group exchange from a given moduli
file, for the GEX tests: OpenSSH 9.x refuses to hand out groups under 2048 bits whatever its
ModuliFile says (DH_GRP_MIN), so a device stack that does (paramiko, like many embedded ones,
takes whatever the moduli file holds) is shown with paramiko.

    python paramiko_gex_server.py PORT MODULI_FILE MAX_CONNECTIONS

Listens on 127.0.0.1 only, serves at most MAX_CONNECTIONS connections, authenticates nobody.
"""

from __future__ import annotations

import socket
import sys
import threading

import paramiko


class _NoAuth(paramiko.ServerInterface):
    def get_allowed_auths(self, username: str) -> str:
        return "publickey"


def _serve(conn: socket.socket, key: paramiko.PKey) -> None:
    t = paramiko.Transport(conn)
    t.get_security_options().kex = ("diffie-hellman-group-exchange-sha256",)
    t.add_server_key(key)
    try:
        t.start_server(server=_NoAuth())
        t.join(10)
    except (paramiko.SSHException, EOFError, OSError):
        pass
    finally:
        t.close()


def main() -> int:
    port, moduli, limit = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if not paramiko.Transport.load_server_moduli(moduli):
        print(f"cannot load {moduli}", file=sys.stderr)
        return 2
    key = paramiko.RSAKey.generate(2048)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    srv.settimeout(60)
    for _ in range(limit):
        try:
            conn, _ = srv.accept()
        except OSError:
            break
        conn.settimeout(10)
        threading.Thread(target=_serve, args=(conn, key), daemon=True).start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
