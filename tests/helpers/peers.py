"""Scripted hostile peers on loopback: a listener that runs a behaviour (garbage, stalls, floods,
truncation) on each connection, for tests of the protocol readers against misbehaving devices."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

from tests.helpers.ports import LOOPBACK


@contextlib.contextmanager
def scripted_peer(behaviour: Callable[[socket.socket], None], connections: int = 20,
                  timeout: float | None = 5) -> Iterator[int]:
    """Yields the port; runs `behaviour` on each of at most `connections` accepted connections
    (with `timeout` on each; None leaves the socket blocking, for a behaviour that hands it to a
    child process, which would otherwise inherit a non-blocking descriptor). Stops when the block ends."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((LOOPBACK, 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        handled = 0
        while not stop.is_set() and handled < connections:
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            handled += 1
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    def run(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            if timeout is not None:
                conn.settimeout(timeout)
            behaviour(conn)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        srv.close()
