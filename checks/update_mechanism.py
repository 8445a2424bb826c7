"""Is there a way to update the device that the network can see: an update page, endpoint or URL?

An update page is recognised by its content (probe/services/updates.py): a 401/403 on an
update-looking path is a protected page whose content is unknown, and a link with an update word
is not an update URL. A page behind a login therefore gives INCONCLUSIVE, never a PASS.
"""

from __future__ import annotations

from collections.abc import Iterator

from probe.context import CheckContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import Check
from probe.services import updates
from probe.services.updates import no_web_service


class UpdateMechanism(Check):
    check_id = "update_mechanism"

    def run(self, ctx: CheckContext) -> Iterator[Finding]:
        early = no_web_service(ctx, "Update mechanism")
        if early:
            yield early
            return
        s = updates.survey(ctx)
        details = {
            "web_services": [{"url": w.url, "reachable": w.reachable, "error": w.error} for w in s.services],
            "update_pages": updates.seen_json(s.update_pages),
            "protected_pages": updates.seen_json(s.protected_pages),
            "update_urls": updates.seen_json(s.update_urls),
            "update_links_not_judged": updates.seen_json(s.update_links),
            "firmware_versions": updates.seen_json(s.versions),
            "pages_visited": updates.seen_json(s.pages),
        }
        arts = sorted({i.artefact for i in s.update_pages + s.protected_pages + s.update_urls + s.versions
                       if i.artefact})
        if not s.any_reachable:
            errors = "; ".join(f"{w.url}: {w.error}" for w in s.services if w.error) or "no web service answered"
            yield ctx.inconclusive("Could not read the device's web services.", errors,
                                   InconclusiveReason.CONNECTIVITY, details=details)
            return
        version = s.versions[0].value if s.versions else None
        vtext = f" Firmware version seen: {version} ({s.versions[0].source})." if version else ""
        if s.update_pages or s.update_urls:
            where = [f"{i.source} ({i.value})" for i in s.update_pages[:3]]
            where += [f"update URL {i.value} in {i.source}" for i in s.update_urls[:3]]
            yield ctx.finding(Status.PASS, "Update page or endpoint found",
                              "The device exposes an update mechanism: " + "; ".join(where) + "." + vtext
                              + " Whether updates are secure is judged by update_channel; the rest needs documents.",
                              details=details, artefacts=arts, severity="info")
            return
        if s.protected_pages:
            protected = ", ".join(f"{i.source} ({i.value})" for i in s.protected_pages[:3])
            yield ctx.inconclusive("No update page or endpoint visible; update-looking pages need a login.",
                                   f"protected page(s) {protected}: what they hold cannot be seen without credentials, "
                                   "so they are not counted as update pages", InconclusiveReason.NO_INPUT,
                                   details=details, artefacts=arts)
            return
        if s.unreadable():
            yield ctx.inconclusive("No update page or endpoint found, but not every web interface could be read.",
                                   "could not read " + "; ".join(s.unreadable()[:4]),
                                   InconclusiveReason.CONNECTIVITY, details=details, artefacts=arts)
            return
        yield ctx.finding(Status.NOT_APPLICABLE, "No update page or endpoint found",
                          f"No update page, endpoint or update URL was found in {len(s.pages)} crawled page(s), "
                          f"the known vendor paths and the UPnP description.{vtext} This is not a PASS: the "
                          "mechanism may sit behind the login or in a companion app, so documents must show it.",
                          reason="no update page, endpoint or URL visible over the network",
                          details=details, artefacts=arts)
