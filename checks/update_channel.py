"""How the device's own update URLs travel: in cleartext, or over TLS judged like every other service.

Only update URLs the device names for itself in its API and configuration answers are judged
(the update survey's `update_urls`); a link in a page that merely contains an update word is
recorded, never judged. A cleartext URL is a proven weakness of the channel (nothing protects the
update check or the image in transit), though it does not by itself show that images are unsigned:
the catalog rules decide which clauses it can FAIL (docs/verdicts.md). An https URL on the device
is not judged here against a trust store of its own: its port gets the `update` role, and that
service's TLS is judged by tls_configuration and tls_certificate under the one policy every
service gets. An https URL on another host is the vendor's server, which probe never contacts:
the channel exists but its protection cannot be observed (INCONCLUSIVE, missing-input: the
manufacturer's documents must show how the device validates that server).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import Check
from probe.services import updates, web
from probe.services.updates import no_web_service

MAX_URLS = 10
CLEARTEXT = ("http://", "ftp://", "tftp://")


class UpdateChannel(Check):
    check_id = "update_channel"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        early = no_web_service(ctx, "Update channel")
        if early:
            yield early
            return
        s = updates.survey(ctx)
        seen = {"firmware_versions": updates.seen_json(s.versions),
                "update_pages": updates.seen_json(s.update_pages),
                "protected_pages": updates.seen_json(s.protected_pages),
                "update_links_not_judged": updates.seen_json(s.update_links)}
        if not s.any_reachable:
            errors = "; ".join(f"{w.url}: {w.error}" for w in s.services if w.error) or "no web service answered"
            yield ctx.inconclusive("Could not read the device's web services.", errors,
                                   InconclusiveReason.CONNECTIVITY, details=seen)
            return
        if not s.update_urls and s.unreadable():
            yield ctx.inconclusive("No update URL seen, but not every web interface could be read.",
                                   "could not read " + "; ".join(s.unreadable()[:4]),
                                   InconclusiveReason.CONNECTIVITY, details=seen)
            return
        if not s.update_urls:
            links = (f" {len(s.update_links)} link(s) with an update word were recorded but not judged: a link "
                     "in a page is not an update URL the device uses." if s.update_links else "")
            yield ctx.finding(Status.NOT_APPLICABLE, "No update URL seen",
                              f"The device names no update-check or download URL in its API or configuration "
                              f"answers ({len(s.pages)} page(s) crawled, known vendor paths asked).{links} The update "
                              "channel could not be observed; this is not a PASS.",
                              reason="no update URL the device names for itself is visible over the network",
                              details=seen)
            return
        for item in s.update_urls[:MAX_URLS]:
            ctx.check_cancelled()
            yield self._judge(ctx, item, seen)

    def _judge(self, ctx: CheckContext, item: updates.Seen, seen: dict[str, Any]) -> Finding:
        url = item.value
        on_device = web.same_host(url, ctx.host)
        details: dict[str, Any] = {"update_url": url, "found_in": item.source, "found_as": item.how,
                                   "on_target": on_device, **seen}
        arts = [item.artefact] if item.artefact else []
        low = url.lower()
        if low.startswith(CLEARTEXT):
            fetched = "" if on_device else " (not fetched: it is not the device under test)"
            scheme = low.split(":", 1)[0]
            return ctx.finding(Status.FAIL, "Update URL in cleartext",
                               f"The device names {url}{fetched} as an update URL in {item.source} ({item.how}): "
                               f"update checks or images fetched from it travel over {scheme} without any "
                               "encryption or server authentication, so they can be read and altered on the path. "
                               "This shows the channel is unprotected; whether images are signed and verified "
                               "on the device is for the documents.", details=details, artefacts=arts,
                               severity="high")
        if not low.startswith("https://"):
            return ctx.inconclusive(f"Update URL with an unknown scheme: {url}", "update URL scheme not assessable",
                                    InconclusiveReason.UNSUPPORTED, details=details, artefacts=arts)
        if not on_device:
            # The channel exists (the device names it), so this is not "nothing to test"; and its
            # cryptography is out of reach: the server is not the device and is never contacted, and
            # whether the device checks that server's certificate happens inside the device. What
            # would decide it is the manufacturer's documents (or a lab set-up that intercepts the
            # device's own update connection), an input this run does not have.
            return ctx.inconclusive(
                f"The device names {url} (in {item.source}, {item.how}) as its update URL: https on another "
                "host, the vendor's server, which probe never contacts. The update channel exists, but whether "
                "the device validates that server's certificate (and so whether the https protects the update "
                "check) cannot be observed from the network: the manufacturer's documents must show it.",
                "the update server is another host (never contacted) and the device's certificate validation "
                "cannot be observed from the network; it needs the manufacturer's documents",
                InconclusiveReason.NO_INPUT, title="Update URL on the vendor's server: validation not observable",
                details=details, artefacts=arts)
        _h, port, _tls, path = web.split_target_url(url)
        svc = next((s for s in ctx.services if s.port == port and s.transport == "tcp"), None)
        details["service"] = svc.key() if svc else None
        if svc is None:
            return ctx.inconclusive(
                f"The device names {url} as an update URL, but port {port} was not among the services discovery "
                "found, so its TLS was not audited.", f"update port {port} not discovered (add it to --ports)",
                InconclusiveReason.NO_INPUT, title="Update service not audited", details=details, artefacts=arts)
        res = web.get(ctx, port, path, tls=True, max_bytes=16 * 1024)
        arts += [a for a in (res.artefact, res.peer_cert_artefact) if a]
        details["http_status"] = res.status
        details["error"] = res.error
        if res.status is None:
            return ctx.inconclusive(f"Could not fetch the update URL {url} over TLS from the device.",
                                    res.error or "no TLS answer", InconclusiveReason.CONNECTIVITY,
                                    details=details, artefacts=arts)
        return ctx.finding(Status.PASS, "Update URL served over TLS by the device",
                           f"The device names {url} (in {item.source}) as an update URL and serves it over TLS on "
                           f"port {port} (HTTP {res.status}). That service carries the update role, so its TLS "
                           "versions, suites and certificate are judged by tls_configuration and tls_certificate "
                           "under the same policy as every other service; their findings decide the update "
                           "cryptography clauses.", details=details, artefacts=arts, severity="info")
