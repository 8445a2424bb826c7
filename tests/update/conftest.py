"""The web UI server the update, model and declaration tests look at."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.daemons import LocalDaemons
from tests.helpers.pki import TestPKI, server_pem


@pytest.fixture
def site(daemons: LocalDaemons) -> Callable[..., int]:
    """`site(files, tls_pem=None, port=None, conf=())`: lighttpd on 127.0.0.1 serving `files` (URL
    path -> content), Server header "lighttpd" (no version); returns its port."""
    return functools.partial(daemons.lighttpd, tag="lighttpd")


@pytest.fixture
def tls_pem(pki: TestPKI, tmp_path: Path) -> Path:
    """The session CA's certificate for 127.0.0.1 with its key, as lighttpd's ssl.pemfile."""
    return server_pem(pki.modern, tmp_path / "server.pem")
