"""unauthenticated_access: services that give access, data or settings without any login.

Evidence for JC-STAR S1.1-01 (every access over IP passes authentication). Each service type
has its own proof: on a web service, a management page or config file served without
credentials, a directory listing (and files fetched from it), a WebDAV folder that PROPFIND lists,
or a camera picture or MJPEG stream recognised by its bytes; FTP 230 for "anonymous"; MQTT
CONNACK 0 + granted SUBACK (+ our own message echoed back) for an anonymous client; for SNMP a
known community whose write probe (a SET of read-only sysDescr.0 to its own value, which changes
nothing) is answered notWritable: the object is inside its write view; an RTSP DESCRIBE answered
with a stream description; an SMB share whose folder an anonymous or guest session can list; and
a console or telnet service that shows a shell prompt without a login and evaluates an `echo` of
a random token (the only command ever sent); an ADB (Android Debug Bridge) daemon that accepts a
host without an RSA key and runs one `shell:echo` of a random token; a TFTP server that hands out
a file from a short list of common configuration and boot file names (read requests only, the first block, then the
transfer is ended); a CoAP server that lists its resources at /.well-known/core to anyone.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

from probe.context import ServiceContext
from probe.models import Finding, InconclusiveReason, Status
from probe.plugins import ServiceCheck
from probe.protocols import adb, coap, console, ftp, http_auth, mqtt, rtsp, smb, snmp, tftp, tlswrap
from probe.protocols.netio import ReadTimeout
from probe.protocols.transcript import Transcript
from probe.services import logins, open_web, web
from probe.services.credentials import for_service
from probe.services.logins import admin_paths

MANAGEMENT_WORDS = re.compile(
    rb"(?i)firmware|configuration|settings|factory reset|reboot|wireless|ssid|admin password|wan\b|"
    rb"upgrade|backup|restore|dhcp|port forward")
CONFIG_SUFFIXES = (".bin", ".cfg", ".conf", ".exp", ".xml", ".tar", ".gz", ".json", ".dat")


def _data_lines(name: str) -> list[str]:
    text = (importlib.resources.files("probe") / "data" / name).read_text("utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def rtsp_paths() -> list[str]:
    return _data_lines("rtsp_paths.txt")


MAX_TFTP_FILES = 16


def tftp_files() -> list[str]:
    return _data_lines("tftp_files.txt")[:MAX_TFTP_FILES]


class UnauthenticatedAccess(ServiceCheck):
    check_id = "unauthenticated_access"

    def run_service(self, ctx: ServiceContext) -> Iterable[Finding]:
        svc = ctx.service
        handler = {"http": self._http, "https": self._http, "ftp": self._ftp, "mqtt": self._mqtt,
                   "mqtts": self._mqtt, "snmp": self._snmp, "rtsp": self._rtsp, "smb": self._smb,
                   "console": self._console, "telnet": self._console, "tftp": self._tftp,
                   "coap": self._coap, "adb": self._adb}[svc.protocol]
        yield handler(ctx)

    # -- HTTP ------------------------------------------------------------------------------
    def _http(self, ctx: ServiceContext) -> Finding:
        svc = ctx.service
        t = Transcript(svc.protocol, ctx.host, svc.port)
        tls = svc.protocol == "https" or svc.tls
        if tls:
            t.note("https: certificate not verified (devices use self-signed certificates)")
        client = web.client(ctx, svc, t)
        try:
            catch_all = client.request("GET", http_auth.random_path())
        except (OSError, ValueError) as exc:
            art = ctx.artefact("transcript", f"{svc.protocol} admin paths", t.render())
            return ctx.inconclusive("Could not fetch pages from the web service.", str(exc),
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art])
        catch_hash = hashlib.sha256(catch_all.body).hexdigest() if catch_all.status == 200 else None
        open_pages: list[dict[str, object]] = []
        protected: list[str] = []
        fetched = 0
        truncated = 0  # responses cut at the read cap (endless or oversized bodies)
        throttled: list[str] = []  # 429/503: the device would not say what the page is
        for path in admin_paths():
            ctx.check_cancelled()
            try:
                resp = client.request("GET", path)
            except (OSError, ValueError) as exc:
                t.note(f"GET {path} failed: {exc}")
                continue
            fetched += 1
            truncated += bool(resp.truncated)
            loc = resp.header("Location") or ""
            if resp.status in (301, 302, 307, 308) and loc:
                nxt = urlsplit(urljoin(path, loc))
                if (not nxt.netloc or nxt.hostname == ctx.host) and nxt.path and nxt.path != path:
                    try:  # one same-host redirect, e.g. /settings -> /settings/
                        resp = client.request("GET", nxt.path)
                    except (OSError, ValueError) as exc:
                        t.note(f"GET {nxt.path} failed: {exc}")
                        continue
            if resp.status in http_auth.AUTH_FAIL_STATUSES or http_auth.surface_from_response(path, resp):
                protected.append(path)
                continue
            if resp.status in (429, 503):
                throttled.append(path)
                continue
            if resp.status != 200 or not resp.body.strip():
                continue
            if catch_hash and hashlib.sha256(resp.body).hexdigest() == catch_hash:
                continue  # the server answers every path with the same page
            ctype = (resp.header("Content-Type") or "").lower()
            is_config = path.endswith(CONFIG_SUFFIXES) and "html" not in ctype
            words = sorted({m.group(0).decode().lower() for m in MANAGEMENT_WORDS.finditer(resp.body[:65536])})
            if not is_config and (len(words) >= 2 and path != "/" or len(words) >= 3) \
                    and logins.script_login_on_page(ctx, svc, client, path, resp) is not None:
                protected.append(path)  # a script-only login page showing management words
                continue
            if is_config or (len(words) >= 2 and path != "/") or len(words) >= 3:
                open_pages.append({"path": path, "status": resp.status, "content_type": ctype,
                                   "bytes": len(resp.body), "management_words": words[:10],
                                   "kind": "configuration file" if is_config else "management page"})
        art = ctx.artefact("transcript", f"{svc.protocol} admin/config paths without credentials", t.render())
        details: dict[str, object] = {"paths_probed": fetched, "protected_paths": protected, "open": open_pages,
                                      "throttled_paths": throttled, "tls_verified": False if tls else None}
        if fetched == 0:
            return ctx.inconclusive("No admin path could be fetched.", "every request failed",
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art], details=details)
        if not open_pages and truncated == fetched:
            # no page ever ended: what it would have served past our read cap is unknown, so no PASS
            # (and no further requests to a service that cannot finish one)
            return ctx.inconclusive("The web service never finished a response.",
                                    f"device misbehaved: all {fetched} responses were cut at the read cap "
                                    "(endless or oversized bodies)", InconclusiveReason.DEVICE_MISBEHAVED,
                                    artefacts=[art], details=details)
        found = open_web.listings(ctx, svc)
        folders = [str(x["path"]) for x in found.listings]
        dav, dav_protected = open_web.webdav_listings(ctx, svc, folders)
        pictures, pictures_protected = open_web.snapshots(ctx, svc)
        details.update({"listings": found.listings, "listing_files": found.files, "webdav": dav, "media": pictures,
                        "protected_data_paths": sorted(set(found.protected + dav_protected + pictures_protected))})
        data_arts = [str(x["artefact"]) for x in [*found.listings, *found.files, *dav, *pictures] if x.get("artefact")]
        opened: list[str] = [f"{p['path']} ({p['kind']})" for p in open_pages]
        # an empty listing shows the switch is on but hands out nothing: kept in the details, not a FAIL
        opened += [f"{x['path']} (directory listing, {x['entries']} entries)" for x in found.listings if x["entries"]]
        served = [x for x in found.files if x.get("status") == 200]
        if served:
            opened.append(f"{len(served)} file(s) fetched from the listings ({', '.join(x['path'] for x in served)})")
        opened += [f"{x['path']} (WebDAV PROPFIND lists {x['count']} entries)" for x in dav]
        opened += [f"{x['path']} ({x['kind']}, {x['bytes_read']} bytes read)" for x in pictures]
        if opened:
            kinds = ("management pages" if open_pages else None,
                     "files" if any(x["entries"] for x in found.listings) or dav else None,
                     "camera pictures" if pictures else None)
            what = " and ".join(k for k in kinds if k)
            return ctx.finding(Status.FAIL, f"Web service hands out {what} without login",
                               f"Without any credentials the web service on port {svc.port} served: "
                               f"{'; '.join(opened)}.", artefacts=[art, *data_arts[:20]], details=details,
                               severity="high")
        if throttled:
            return ctx.inconclusive("The device throttled the requests.", f"{len(throttled)} path(s) answered "
                                    "429/503 (throttling or lock-out), so what they serve without a login is unknown",
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art], details=details)
        return ctx.finding(Status.PASS, "No open management page, listing or camera picture found",
                           f"None of {fetched} common admin/config/firmware paths on port {svc.port} served "
                           f"settings without a login ({len(protected)} asked for credentials); no directory "
                           f"listing in {found.pages_read} folder(s) asked, no WebDAV folder listed, no camera "
                           "picture at the known snapshot paths. Pages outside these lists are not covered.",
                           artefacts=[art], details=details, severity="info")

    # -- FTP -------------------------------------------------------------------------------
    def _ftp(self, ctx: ServiceContext) -> Finding:
        svc = ctx.service
        t = Transcript("ftp", ctx.host, svc.port)
        try:
            with ctx.connection(svc.port) as sock:
                r = ftp.try_login(sock, t, "anonymous", ftp.ANONYMOUS_PASSWORD, timeout=ctx.remaining())
        except OSError as exc:
            return ctx.inconclusive("Could not connect to the FTP service.", str(exc), InconclusiveReason.CONNECTIVITY)
        art = ctx.artefact("transcript", "ftp anonymous login", t.render())
        if r.outcome in (ftp.Outcome.SUCCESS, ftp.Outcome.NO_PASSWORD):
            return ctx.finding(Status.FAIL, "Anonymous FTP login accepted",
                               f"FTP on port {svc.port} logged in user 'anonymous' ({r.detail}).",
                               artefacts=[art], severity="high", details={"reply": r.last.code if r.last else None})
        if r.outcome is ftp.Outcome.FAILURE:
            return ctx.finding(Status.PASS, "Anonymous FTP refused",
                               f"FTP on port {svc.port} refused user 'anonymous' ({r.detail}).", artefacts=[art],
                               severity="info")
        code = InconclusiveReason.CONNECTIVITY if r.outcome in (ftp.Outcome.CLOSED, ftp.Outcome.REFUSED) \
            else InconclusiveReason.DEVICE_MISBEHAVED
        return ctx.inconclusive("Anonymous FTP could not be tested.", r.detail, code, artefacts=[art])

    # -- MQTT ------------------------------------------------------------------------------
    def _mqtt(self, ctx: ServiceContext) -> Finding:
        svc = ctx.service
        tls = svc.tls or svc.protocol == "mqtts"
        t = Transcript("mqtt", ctx.host, svc.port)
        topic = mqtt.probe_topic()
        sub: list[int] = []
        echoed = False
        try:
            with ctx.connection(svc.port, tls=tls, client_speaks_first=True) as sock:
                s = mqtt.Session(sock, t, ctx.remaining())
                code = s.connect()
                if code == 0:
                    sub = s.subscribe(topic)
                    if sub and sub[0] <= 2:
                        echoed = s.publish_echo(topic, b"probe anonymous publish test")
                    s.disconnect()
        except (OSError, ReadTimeout, ValueError) as exc:
            t.note(f"connection ended: {exc}")
            art = ctx.artefact("transcript", "mqtt anonymous session", t.render())
            if tlswrap.needs_client_certificate(exc):
                return ctx.finding(Status.PASS, "Anonymous MQTT refused at TLS",
                                   f"The broker on port {svc.port} refused a client without a TLS client certificate "
                                   f"before any MQTT was exchanged ({exc}).", artefacts=[art], severity="info")
            return ctx.inconclusive("Could not complete an MQTT exchange.", str(exc),
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art])
        art = ctx.artefact("transcript", "mqtt anonymous session", t.render())
        details = {"connack": code, "topic": topic, "suback": sub, "publish_echoed": echoed}
        if code != 0:
            return ctx.finding(Status.PASS, "Anonymous MQTT refused",
                               f"The broker on port {svc.port} refused an anonymous client (CONNACK {code}: "
                               f"{mqtt.CONNACK_CODES.get(code, 'unknown')}).", artefacts=[art], details=details,
                               severity="info")
        if sub and sub[0] <= 2:
            what = "subscribe and publish" if echoed else "subscribe"
            return ctx.finding(Status.FAIL, "Anonymous MQTT access",
                               f"The broker on port {svc.port} accepted an anonymous client and let it {what} "
                               f"(topic {topic}, SUBACK {sub}{', own message received back' if echoed else ''}).",
                               artefacts=[art], details=details, severity="high")
        return ctx.finding(Status.FAIL, "Anonymous MQTT connection accepted",
                           f"The broker on port {svc.port} accepted an anonymous client (CONNACK 0); the "
                           f"subscription to {topic} was refused (SUBACK {sub}), so an ACL limits what it can do.",
                           artefacts=[art], details=details, severity="medium")

    # -- RTSP ------------------------------------------------------------------------------
    def _rtsp(self, ctx: ServiceContext) -> Finding:
        """DESCRIBE on common stream paths: an SDP answer without credentials is open video."""
        svc = ctx.service
        t = Transcript("rtsp", ctx.host, svc.port)
        base = f"rtsp://{ctx.host}:{svc.port}"
        answers: dict[str, int] = {}
        open_stream: tuple[str, rtsp.Reply] | None = None
        try:
            with ctx.connection(svc.port) as sock:
                opts = rtsp.request(sock, t, "OPTIONS", base + "/", 1, ctx.remaining())
                answers["OPTIONS /"] = opts.status
                for cseq, path in enumerate(rtsp_paths(), start=2):
                    ctx.check_cancelled()
                    r = rtsp.request(sock, t, "DESCRIBE", base + path, cseq, ctx.remaining(),
                                     {"Accept": "application/sdp"})
                    answers[path] = r.status
                    if r.status == 200 and b"m=" in r.body:
                        open_stream = (path, r)
                        break
                    if r.status == 401:
                        break
        except (OSError, ReadTimeout, ValueError) as exc:
            art = ctx.artefact("transcript", "rtsp describe", t.render())
            code = InconclusiveReason.DEVICE_MISBEHAVED if isinstance(exc, ValueError) else \
                InconclusiveReason.CONNECTIVITY
            return ctx.inconclusive("Could not complete an RTSP exchange.", str(exc), code, artefacts=[art])
        art = ctx.artefact("transcript", "rtsp describe", t.render())
        details = {"answers": answers}
        if open_stream:
            path, r = open_stream
            return ctx.finding(Status.FAIL, "Video stream described without authentication",
                               f"RTSP on port {svc.port} answered DESCRIBE {path} with a stream description "
                               f"(SDP, {len(r.body)} bytes) without asking for credentials.",
                               details=details, artefacts=[art], severity="high")
        if 401 in answers.values():
            return ctx.finding(Status.PASS, "RTSP asks for credentials",
                               f"RTSP on port {svc.port} answered DESCRIBE with 401: streams need a login.",
                               details=details, artefacts=[art], severity="info")
        return ctx.inconclusive("No stream found to test.", f"none of {len(answers) - 1} common stream paths "
                                "exists on this RTSP server and none asked for credentials, so whether a stream "
                                "would need a login is unproven", InconclusiveReason.NO_INPUT,
                                details=details, artefacts=[art])

    # -- SMB -------------------------------------------------------------------------------
    def _smb(self, ctx: ServiceContext) -> Finding:
        """An anonymous, then a guest session; the share list; the top folder of each disk share."""
        svc = ctx.service
        t = Transcript("smb", ctx.host, svc.port)
        try:
            with ctx.slot():
                r = smb.guest_access(ctx.host, svc.port, ctx.remaining(), deadline=ctx.session.clock.deadline)
        except OSError as exc:
            t.note(f"no SMB session: {exc}")
            art = ctx.artefact("transcript", "smb guest session", t.render())
            return ctx.inconclusive("Could not negotiate an SMB session.", str(exc), InconclusiveReason.CONNECTIVITY,
                                    artefacts=[art])
        for line in r.log:
            t.note(line)
        art = ctx.artefact("transcript", "smb anonymous/guest session, share list, top folders", t.render())
        details = r.to_json()
        readable = [s for s in r.readable if not s.special]
        if readable:
            listing = "; ".join(f"\\\\{ctx.host}\\{s.name} ({len(s.listed or [])} entries: "
                                f"{', '.join((s.listed or [])[:5]) or 'empty'})" for s in readable)
            return ctx.finding(Status.FAIL, "SMB share readable without login",
                               f"An {r.session} SMB session (no password) on port {svc.port} listed the files of "
                               f"{len(readable)} share(s): {listing}.", artefacts=[art], details=details,
                               severity="high")
        if r.session is None:
            return ctx.finding(Status.PASS, "SMB refuses anonymous and guest sessions",
                               f"The SMB server on port {svc.port} refused an anonymous and a guest session "
                               f"({'; '.join(r.refusals)}).", artefacts=[art], details=details, severity="info")
        names = ", ".join(s.name for s in r.shares) or "none"
        return ctx.finding(Status.PASS, "No SMB share readable without login",
                           f"The SMB server on port {svc.port} accepted an {r.session} session and "
                           + ("listed its shares (" + names + ")" if r.shares else "did not list its shares")
                           + ", but none of their folders could be read without a password.",
                           artefacts=[art], details=details, severity="low" if r.shares else "info")

    # -- consoles ----------------------------------------------------------------------------
    def _console(self, ctx: ServiceContext) -> Finding:
        """A prompt without a login: only an empty line and one `echo` of a random token are sent."""
        svc = ctx.service
        t = Transcript(svc.protocol, ctx.host, svc.port)
        try:
            with ctx.connection(svc.port) as sock:
                r = console.probe(sock, t, ctx.remaining(), ctx.check_cancelled)
        except (OSError, ReadTimeout) as exc:
            t.note(f"connection ended: {exc}")
            art = ctx.artefact("transcript", f"{svc.protocol} console probe", t.render())
            return ctx.inconclusive(f"Could not talk to the {svc.protocol} service.", str(exc),
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art])
        art = ctx.artefact("transcript", f"{svc.protocol} console probe (one empty line, one echo)", t.render())
        details = {"outcome": str(r.outcome), "prompt": r.prompt, "token": r.token}
        if r.outcome is console.Outcome.EXECUTES:
            return ctx.finding(Status.FAIL, "Command shell without login",
                               f"The {svc.protocol} service on port {svc.port} gave a shell prompt without asking "
                               f"for any credential, and ran a command: {r.detail}.", artefacts=[art],
                               details=details, severity="critical")
        if r.outcome is console.Outcome.PROMPT:
            return ctx.finding(Status.FAIL, "Interactive console without login",
                               f"The {svc.protocol} service on port {svc.port} answers with a prompt without "
                               f"asking for any credential ({r.detail}).", artefacts=[art], details=details,
                               severity="high")
        if r.outcome is console.Outcome.LOGIN:
            return ctx.finding(Status.PASS, "Asks for a login first",
                               f"The {svc.protocol} service on port {svc.port} asks for credentials before "
                               "giving a prompt.", artefacts=[art], details=details, severity="info")
        code = InconclusiveReason.CONNECTIVITY if r.outcome is console.Outcome.CLOSED else \
            InconclusiveReason.DEVICE_MISBEHAVED
        return ctx.inconclusive(f"Neither a login nor a prompt on {svc.protocol} port {svc.port}.", r.detail, code,
                                artefacts=[art], details=details)

    # -- ADB ---------------------------------------------------------------------------------
    def _adb(self, ctx: ServiceContext) -> Finding:
        """CNXN, and on a keyless CNXN one `shell:echo` of a random token; AUTH is never answered."""
        svc = ctx.service
        t = Transcript(svc.protocol, ctx.host, svc.port)
        try:
            with ctx.connection(svc.port) as sock:
                r = adb.probe(sock, t, ctx.remaining())
        except OSError as exc:
            t.note(f"connection ended: {exc}")
            art = ctx.artefact("transcript", "adb probe", t.render())
            return ctx.inconclusive("Could not talk to the ADB service.", str(exc),
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art])
        art = ctx.artefact("transcript", "adb probe (CNXN, one shell:echo stream)", t.render())
        details = {"outcome": str(r.outcome), "banner": r.banner, "properties": r.properties, "token": r.token,
                   "output": r.output}
        if r.outcome is adb.Outcome.EXECUTES:
            return ctx.finding(Status.FAIL, "ADB shell without authentication",
                               f"The ADB daemon on port {svc.port} accepted a host without an RSA key "
                               f"(device banner {r.banner!r}) and ran a command: {r.detail}.", artefacts=[art],
                               details=details, severity="critical")  # a command shell for anyone, as a console's
        if r.outcome is adb.Outcome.AUTH:
            return ctx.finding(Status.PASS, "ADB requires key authentication",
                               f"The ADB daemon on port {svc.port} answered the connect with an AUTH token: only a "
                               "host whose RSA key the device authorised can connect (the token was not answered).",
                               artefacts=[art], details=details, severity="info")
        if r.outcome is adb.Outcome.CONNECTED:
            return ctx.inconclusive(f"ADB on port {svc.port} connects without a key, but no command was proven.",
                                    r.detail, InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art], details=details)
        return ctx.inconclusive(f"No ADB answer on port {svc.port}.", r.detail, InconclusiveReason.DEVICE_MISBEHAVED,
                                artefacts=[art], details=details)

    # -- SNMP ------------------------------------------------------------------------------
    def _snmp(self, ctx: ServiceContext) -> Finding:
        """Write access with a known community, proven without changing anything.

        Each community that reads sysDescr.0 gets one SET of sysDescr.0 to the value just read.
        sysDescr is read-only in every agent (RFC 3418), so nothing can change; the error-status
        says what the community may do (RFC 3416 4.2.5, checked with net-snmp 5.9's snmpd and
        snmpset): noAccess / authorizationError when the object is outside the community's write
        view (a read-only community), notWritable when it is inside the write view but the object
        cannot be changed (a read-write community). SNMPv1 maps both to noSuchName (RFC 3584 4.4),
        so a v1-only answer cannot tell them apart.
        """
        svc = ctx.service
        t = Transcript("snmp", ctx.host, svc.port)
        communities = [c for c in for_service("snmp", ctx.options.credentials.user_file)][:8]
        rows: list[dict[str, str]] = []
        engine: snmp.EngineReport | None = None
        with ctx.slot():
            client = snmp.Client(ctx.host, svc.port, t, timeout=ctx.remaining(2.0))
            names = [c.password.encode() for c in communities]
            t.note(f"GET sysDescr.0 with each of {len(names)} known communities, over v2c and v1, all at once")
            answers = client.request_each([(v, c, snmp.GET, snmp.SYS_DESCR) for c in names
                                           for v in (snmp.V2C, snmp.V1)])
            for i, cred in enumerate(communities):
                ctx.check_cancelled()
                row = self._snmp_rights(client, t, names[i], "<operator-supplied>" if cred.secret else cred.password,
                                        answers[2 * i], answers[2 * i + 1])
                if row is not None:
                    rows.append(row)
            if not rows:
                engine = snmp.discover_engine(ctx.host, svc.port, t, ctx.remaining(2.0))
        art = ctx.artefact("transcript", "snmp community rights (GET sysDescr.0, SET to the same value)", t.render())
        details: dict[str, object] = {"communities": rows, "tried": len(communities), "oid": snmp.SYS_DESCR}
        writers = [r for r in rows if r["rights"] == "write"]
        if writers:
            w = writers[0]
            readers = [r["community"] for r in rows if r["rights"] == "read-only"]
            contrast = (f" With {', '.join(repr(c) for c in readers)} the same SET got noAccess (read-only): the "
                        "agent tells the two apart." if readers else "")
            return ctx.finding(Status.FAIL, "SNMP write access with a default community",
                               f"The SNMP agent on udp/{svc.port} grants write access to the community "
                               f"{w['community']!r}: a SET of sysDescr.0 (read-only in every agent) to the value "
                               f"just read was answered {w['set']}, which an agent returns only when the object is "
                               f"inside the community's write view (RFC 3416 4.2.5; a read-only community gets "
                               f"noAccess). Nothing was changed.{contrast} Anyone on the network can change the "
                               "agent's writable objects with this community.",
                               artefacts=[art], severity="high",
                               details={**details, "community": w["community"], "set_error": w["set"]})
        unclear = [r for r in rows if r["rights"] == "unknown"]
        if unclear:
            u = unclear[0]
            return ctx.inconclusive(f"The community {u['community']!r} reads the SNMP agent on udp/{svc.port}; "
                                    "whether it may also write could not be told without changing something.",
                                    f"the SET of sysDescr.0 to its own value was answered {u['set']} over "
                                    f"{u['version']}, which does not separate read-only from read-write",
                                    InconclusiveReason.UNSUPPORTED, artefacts=[art], details=details)
        if rows:
            readable = ", ".join(repr(r["community"]) for r in rows)
            return ctx.finding(Status.PASS, "No SNMP write access with a default community",
                               f"No default community has write access on udp/{svc.port}: {readable} read(s) "
                               "sysDescr.0, and a SET of it to the same value was answered noAccess (outside the "
                               "community's write view). Read access with a default community is reported by "
                               "default_credentials.", artefacts=[art], severity="info",
                               details={**details, "readable_communities": [r["community"] for r in rows]})
        if engine is None:
            return ctx.inconclusive("No SNMP agent answered.", "no answer to any community nor to SNMPv3 discovery",
                                    InconclusiveReason.CONNECTIVITY, artefacts=[art], details=details)
        return ctx.finding(Status.PASS, "No SNMP access with a default community",
                           f"The SNMP agent on udp/{svc.port} is listening: it answered SNMPv3 engine discovery with "
                           f"a Report ({engine.describe()}; in the transcript). None of the {len(communities)} "
                           "default communities tried got any answer over v2c or v1: SNMP v1/v2c agents drop a "
                           "request with a community they do not know without answering, so a live agent's silence "
                           "is its refusal. No read, and so no write, access without the device's own credentials.",
                           artefacts=[art], severity="info",
                           details={**details, "agent_proof": "SNMPv3 engine-discovery Report",
                                    "snmpv3_engine_id": engine.engine_id.hex()})

    @staticmethod
    def _snmp_rights(client: snmp.Client, t: Transcript, community: bytes, shown: str, v2c: snmp.Reply | None,
                     v1: snmp.Reply | None) -> dict[str, str] | None:
        """What one community may do, from its answers to GET sysDescr.0 over v2c and v1: None when
        the agent ignored it (silence), else a row with the version used, the answer to the write
        probe and the rights that answer shows."""
        version, got = (snmp.V2C, v2c) if v2c is not None else (snmp.V1, v1)
        if got is None:
            t.note(f"community {shown!r}: no answer over v2c or v1 (not a community of this agent)")
            return None
        row = {"community": shown, "version": "v2c" if version == snmp.V2C else "v1", "get": got.error}
        if got.error_status or not got.varbinds or got.varbinds[0][1] != "OCTET STRING":
            row.update(set="not sent", rights="unknown")
            t.note(f"community {shown!r}: sysDescr.0 not readable ({got.error}); no write probe")
            return row
        value = got.varbinds[0][2]
        t.note(f"community {shown!r}: sysDescr.0 = {value!r}; SET of the same value (sysDescr is read-only: "
               "nothing can change) to read the community's rights from the error-status")
        res = client.request(version, community, snmp.SET, snmp.SYS_DESCR, snmp.enc_value("OCTET STRING", value))
        row["set"] = res.error if res is not None else "no answer"
        if res is not None and version == snmp.V2C and res.error_status in (0, 17):  # noError, notWritable
            row["rights"] = "write"
        elif res is not None and version == snmp.V2C and res.error_status in (6, 16):  # noAccess, authorizationError
            row["rights"] = "read-only"
        else:
            row["rights"] = "unknown"
        t.note(f"community {shown!r}: SET answered {row['set']}: {row['rights']}")
        return row

    # -- TFTP ------------------------------------------------------------------------------
    def _tftp(self, ctx: ServiceContext) -> Finding:
        """Read requests for common configuration and boot file names (probe/data/tftp_files.txt):
        the first DATA block of a file is the proof (TFTP has no login, so whatever it serves it
        serves to anyone); the transfer is ended right after it with an ERROR packet."""
        svc = ctx.service
        t = Transcript("tftp", ctx.host, svc.port)
        answers: dict[str, str] = {}
        served: tuple[str, tftp.Exchange] | None = None
        silent = 0
        for name in tftp_files():
            ctx.check_cancelled()
            with ctx.slot():
                ex = tftp.read_first_block(ctx.host, name, port=svc.port, timeout=ctx.remaining(1.0), attempts=1)
            t.sent(ex.request)
            if ex.reply is not None:
                t.received(ex.reply)
            if ex.answer is None:
                answers[name] = "port unreachable" if ex.refused else (ex.error or "no answer")
                silent += 1
                if ex.refused or silent >= 3:
                    break  # the service is gone or ignores us: do not keep asking
                continue
            answers[name] = ex.answer.describe()
            if ex.answer.is_data:
                t.note(f"{name}: DATA block {ex.answer.block} ({len(ex.answer.data)} bytes) from port "
                       f"{ex.server_port}; transfer ended with an ERROR packet (nothing more read)")
                served = (name, ex)
                break
        art = ctx.artefact("transcript", "tftp read requests (first block only)", t.render())
        details: dict[str, object] = {"asked": answers}
        if served is not None:
            name, ex = served
            data = ex.answer.data if ex.answer else b""
            first = ctx.artefact("tftp-file", f"tftp {name} (first block)", data)
            return ctx.finding(Status.FAIL, "TFTP hands out a file without authentication",
                               f"The TFTP server on udp/{svc.port} sent the first {len(data)} bytes of {name!r} to a "
                               "read request with no credentials (TFTP has none). Only the first block was read; "
                               "the transfer was ended right after it.", artefacts=[art, first], severity="high",
                               details={**details, "file": name, "first_bytes_hex": data[:64].hex()})
        if any(v.startswith("ERROR") for v in answers.values()):
            # Not a PASS: TFTP has no authentication, so the server hands any file it holds to whoever
            # names it; refusing the names probe guessed proves no access control (as for RTSP paths)
            return ctx.inconclusive(f"The TFTP server on udp/{svc.port} served none of {len(answers)} common "
                                    "file names; what it does serve could not be tested.",
                                    "TFTP has no authentication: any file the server holds is served to whoever "
                                    "names it, and none of the common configuration and boot file names exists "
                                    "here (ERROR answers in the transcript); the open service itself is reported "
                                    "by service_inventory", InconclusiveReason.NO_INPUT, artefacts=[art],
                                    details=details)
        return ctx.inconclusive("The TFTP server did not answer the read requests.",
                                "; ".join(f"{k}: {v}" for k, v in list(answers.items())[:4]) or "nothing asked",
                                InconclusiveReason.CONNECTIVITY, artefacts=[art], details=details)

    # -- CoAP ------------------------------------------------------------------------------
    def _coap(self, ctx: ServiceContext) -> Finding:
        """GET /.well-known/core (RFC 6690): a resource list handed out over plain CoAP, which has
        no authentication of its own, shows the device's API open to anyone on the network."""
        svc = ctx.service
        t = Transcript("coap", ctx.host, svc.port)
        with ctx.slot():
            ex = coap.get(ctx.host, svc.port, "/.well-known/core", timeout=ctx.remaining(1.0), attempts=2)
        t.sent(ex.request)
        for r in ex.replies:
            t.received(r)
        m = ex.response
        if m is not None:
            t.note(f"answer: {'RST' if m.type == coap.RST else m.code_text}")
        art = ctx.artefact("transcript", "coap GET /.well-known/core", t.render())
        if m is None:
            return ctx.inconclusive("The CoAP server did not answer GET /.well-known/core.",
                                    f"exchange state: {ex.state}", InconclusiveReason.CONNECTIVITY, artefacts=[art])
        links = coap.links(m.payload) if m.code == 0x45 else []
        details = {"answer": m.code_text if m.type != coap.RST else "RST",
                   "resources": [{"target": link.target, **link.attributes} for link in links[:30]]}
        if links:
            shown = ", ".join(link.target for link in links[:8])
            return ctx.finding(Status.FAIL, "CoAP resources listed without authentication",
                               f"The CoAP server on udp/{svc.port} answered GET /.well-known/core with "
                               f"{m.code_text} and {len(links)} resource(s) ({shown}) to a client with no "
                               "credentials: plain CoAP carries no authentication, so the device's API is open to "
                               "anyone on the network.", artefacts=[art], severity="high", details=details)
        if m.type == coap.RST or m.code >= 0x80:
            # Not a PASS: plain CoAP has no authentication of its own, so a refused listing only hides
            # the resources' names; whether they answer anyone cannot be tested without them. (A
            # 4.01 asking for OSCORE would be evidence of authentication; no real OSCORE server is
            # available to test that path here, so it is not claimed.)
            return ctx.inconclusive(f"The CoAP server on udp/{svc.port} refused resource discovery "
                                    f"({details['answer']}); its resources could not be tested.",
                                    "plain CoAP carries no authentication, and without the resources' paths "
                                    "(resource discovery refused) whether they answer anyone cannot be seen; "
                                    "the manufacturer's documents name them",
                                    InconclusiveReason.NO_INPUT, artefacts=[art], details=details)
        return ctx.inconclusive(f"The CoAP server answered {details['answer']} with no resource list.",
                                "the answer neither lists resources nor refuses the request",
                                InconclusiveReason.DEVICE_MISBEHAVED, artefacts=[art], details=details)
