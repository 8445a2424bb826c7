"""probe.services.web.get, the memoised page read every check shares, against lighttpd on loopback:
what a check sees must not depend on which check read the page first (issue 11: verdicts that do
not change between runs of the same device)."""

from __future__ import annotations

import pytest

from probe.services import web
from tests.helpers.crypto import make_ctx
from tests.helpers.daemons import LocalDaemons

PAGE = b"".join(b"line %05d of a long status page\n" % i for i in range(4000))  # 128,000 bytes


@pytest.fixture
def site(daemons: LocalDaemons) -> int:
    return daemons.lighttpd({"/status.txt": PAGE})


@pytest.mark.parametrize("order", [(1000, 100_000), (100_000, 1000)])
def test_each_caller_sees_exactly_its_cap_whoever_read_first(site: int, order: tuple[int, int]) -> None:
    ctx = make_ctx(site, "http")
    got = {cap: web.get(ctx, site, "/status.txt", tls=False, max_bytes=cap) for cap in order}
    assert got[1000].status == 200 and got[1000].body == PAGE[:1000] and got[1000].truncated
    assert got[100_000].body == PAGE[:100_000] and got[100_000].truncated
    requests = [a for a in ctx.store.artefacts.values() if a.kind == "http-response"]
    # small cap first: the short read cannot serve the larger cap, so the page is read twice;
    # large cap first: the small one is cut from it, one request
    assert len(requests) == (2 if order[0] < order[1] else 1)


def test_a_complete_read_serves_every_cap(site: int) -> None:
    ctx = make_ctx(site, "http")
    whole = web.get(ctx, site, "/status.txt", tls=False, max_bytes=256 * 1024)
    again = web.get(ctx, site, "/status.txt", tls=False, max_bytes=200 * 1024)
    assert whole.body == PAGE and not whole.truncated and again.body == PAGE and not again.truncated
    assert sum(1 for a in ctx.store.artefacts.values() if a.kind == "http-response") == 1
