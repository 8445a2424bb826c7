"""How update checks and downloads travel: cleartext, validated TLS, or TLS that does not validate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
        versions = updates.seen_json(s.versions)
        if not s.any_reachable:
            errors = "; ".join(f"{w.url}: {w.error}" for w in s.services if w.error) or "no web service answered"
            yield ctx.inconclusive("Could not read the device's web services.", errors,
                                   InconclusiveReason.CONNECTIVITY)
            return
        if not s.update_urls and s.unreadable():
            yield ctx.inconclusive("No update URL seen, but not every web interface could be read.",
                                   "could not read " + "; ".join(s.unreadable()[:4]),
                                   InconclusiveReason.CONNECTIVITY,
                                   details={"firmware_versions": versions,
                                            "update_pages": updates.seen_json(s.update_pages)})
            return
        if not s.update_urls:
            yield ctx.finding(Status.NOT_APPLICABLE, "No update URL seen",
                              f"No update-check or download URL appeared in the device's answers "
                              f"({len(s.pages)} page(s) crawled, known vendor paths asked). The update channel "
                              "could not be observed; this is not a PASS.",
                              reason="no update URL visible over the network",
                              details={"firmware_versions": versions,
                                       "update_pages": updates.seen_json(s.update_pages)})
            return
        ca_file = ctx.options.crypto.ca_file
        for item in s.update_urls[:MAX_URLS]:
            ctx.check_cancelled()
            yield self._judge(ctx, item, versions, ca_file)

    def _judge(self, ctx: CheckContext, item: updates.Seen, versions: list[dict[str, object]],
               ca_file: Path | None) -> Finding:
        url = item.value
        on_device = web.same_host(url, ctx.host)
        details: dict[str, object] = {"update_url": url, "found_in": item.source, "found_as": item.how,
                                      "on_target": on_device, "firmware_versions": versions,
                                      "ca_file": str(ca_file) if ca_file else None}
        arts = [item.artefact] if item.artefact else []
        low = url.lower()
        if low.startswith(CLEARTEXT):
            fetched = " (not fetched: it is not the device under test)" if not on_device else ""
            return ctx.finding(Status.FAIL, "Update URL in cleartext",
                               f"The device refers to the update URL {url}{fetched}, found in {item.source} "
                               f"({item.how}): update checks or images travel without TLS, so they can be read and "
                               "altered on the path.", details=details, artefacts=arts, severity="high")
        if not low.startswith("https://"):
            return ctx.inconclusive(f"Update URL with an unknown scheme: {url}", "update URL scheme not assessable",
                                    InconclusiveReason.UNSUPPORTED, details=details, artefacts=arts)
        if not on_device:
            return ctx.inconclusive(
                f"The update URL {url} (found in {item.source}) uses https but points away from the device: it is "
                "the vendor's server, which probe never contacts, so its certificate chain was not checked. "
                "The manufacturer's documents must show that the device validates it.",
                "update server is not the device under test: recorded, never fetched",
                InconclusiveReason.UNSUPPORTED, title="Update URL on another host (not contacted)",
                details=details, artefacts=arts)
        _h, port, _tls, path = web.split_target_url(url)
        verify = web.verifying_tls_context(str(ca_file) if ca_file else None)
        res = web.request(ctx, port, path, tls=True, method="GET", verify=verify,
                          max_bytes=16 * 1024)
        if res.artefact:
            arts.append(res.artefact)
        if res.peer_cert_artefact:
            arts.append(res.peer_cert_artefact)
        details["tls_error"] = res.error
        details["http_status"] = res.status
        trust = "the system trust store" + (f" and {ca_file}" if ca_file else "")
        if res.tls_verified:
            return ctx.finding(Status.PASS, "Update URL uses TLS with a valid certificate",
                               f"The update URL {url} (found in {item.source}) is served over TLS with a "
                               f"certificate chain that validates against {trust} and matches the address "
                               f"(HTTP {res.status}).", details=details, artefacts=arts, severity="info")
        if res.tls_verified is False:
            return ctx.finding(Status.FAIL, "Update URL's TLS certificate does not validate",
                               f"The update URL {url} (found in {item.source}) is served over TLS, but its "
                               f"certificate does not validate against {trust}: {res.error}.",
                               details=details, artefacts=arts, severity="high")
        return ctx.inconclusive(f"Could not connect to the update URL {url} on the device.",
                                res.error or "no TLS handshake", InconclusiveReason.CONNECTIVITY,
                                details=details, artefacts=arts)
