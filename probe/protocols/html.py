"""HTML as devices serve it: the one parser for what probe reads in a page.

Title, h1/h2 headings, meta tags, links (with their text), frames, form actions, forms with
their inputs, the scripts (a count, their src, inline script text, capped) and the visible text of
headers and footers: the update survey, the login-page search, the login trials and the model
designation all read pages through `parse`. Where a page sends the browser on (a meta refresh, a
script that sets `window.location` / `location.href` or calls `location.replace`), `redirects`
lists the target as written: device web UIs often reach their login page only that way.
The standard library's HTMLParser is lenient (broken markup is normal on devices) and never
fetches or runs anything; every list is capped, and a page is read up to a character limit, so a
hostile page costs bounded time and memory.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

MAX_INLINE_SCRIPT = 64 * 1024  # characters of inline script text kept (what a page's scripts request)
MAX_ITEMS = 500  # meta tags, links, forms, inputs per form: each list stops growing here
MAX_TITLE = 500  # characters of <title> kept
DEFAULT_LIMIT = 128 * 1024  # characters of a page read by default
_PASSWORD_MARKUP = re.compile(rb"(?i)<input[^>]+type\s*=\s*[\"']?password")
MAX_REDIRECTS = 8  # redirect targets kept per page
# `location = "..."`, `window.location.href = '...'`, `top.location.replace("...")`: a literal
# target only (`location = base + x` names no page); `==` comparisons do not match
_SCRIPT_REDIRECT = re.compile(
    r"""\blocation(?:\s*\.\s*href)?\s*=(?!=)\s*(["'])([^"'\s<>]{1,300})\1"""
    r"""|\blocation\s*\.\s*(?:replace|assign)\s*\(\s*(["'])([^"'\s<>]{1,300})\3""")
_REFRESH_URL = re.compile(r"""(?i)^\s*\d*(?:\.\d*)?\s*[;,]?\s*url\s*=\s*["']?([^"'\s]+)""")


@dataclass(frozen=True)
class Input:
    type: str  # lower-case; "text" when the attribute is missing
    name: str
    value: str


@dataclass
class Form:
    action: str
    method: str  # upper-case; GET when the attribute is missing
    inputs: list[Input] = field(default_factory=list)
    orphan: bool = False  # inputs outside any <form>: a script-driven form (POST assumed)


@dataclass
class Page:
    title: str = ""
    headings: list[str] = field(default_factory=list)  # h1 / h2 text: what the page says it is about
    meta: list[tuple[str, str]] = field(default_factory=list)  # (name/property/http-equiv lower-case, content)
    # (href, text) of <a>; (src, "") of frames; (action, "form") of forms
    links: list[tuple[str, str]] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    scripts: int = 0
    script_srcs: list[str] = field(default_factory=list)  # src of <script src=...>, in page order
    inline_script: str = ""  # the text of inline <script> elements, capped at MAX_INLINE_SCRIPT characters
    # visible text of the page's header/footer and of elements whose id or class names a model,
    # product, version, brand or copyright: where vendors put the model designation
    marked_text: list[str] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)  # src of <frame>/<iframe>, in page order
    # where the page sends the browser: meta refresh first, then literal script redirects, as written
    redirects: list[str] = field(default_factory=list)

    @property
    def file_inputs(self) -> int:
        """<input type="file"> anywhere: an upload form (a firmware upload on an update page)."""
        return sum(1 for f in self.forms for i in f.inputs if i.type == "file")


_MARK_TAGS = frozenset({"header", "footer"})
_MARK_WORDS = re.compile(r"(?i)footer|header|model|product|version|brand|copyright|device")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr", "param"})
MAX_MARKED = 40  # marked sections kept, each at most 400 characters


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._stack: list[tuple[str, bool]] = []  # open elements: (tag, starts a marked section)
        self._marked: list[str] | None = None  # text of the outermost marked section being read
        self._hidden = 0  # inside <script>/<style>: not visible text
        self._in_script = False
        self._in_title = False
        self._link: list[str] | None = None  # [href, text so far] inside an <a>
        self._heading: list[str] | None = None  # text so far inside an <h1>/<h2>
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        p = self.page
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "title":
            self._in_title = True
        elif tag in ("h1", "h2") and len(p.headings) < MAX_ITEMS:
            self._heading = []
        elif tag == "meta" and len(p.meta) < MAX_ITEMS:
            name = a.get("name") or a.get("property") or a.get("http-equiv") or ""
            if name:
                p.meta.append((name.lower(), a.get("content", "")))
        elif tag == "a" and a.get("href") and len(p.links) < MAX_ITEMS:
            self._link = [a["href"], ""]
        elif tag in ("frame", "iframe") and a.get("src") and len(p.links) < MAX_ITEMS:
            p.links.append((a["src"], ""))
            p.frames.append(a["src"])
        elif tag == "script":
            p.scripts += 1
            if a.get("src") and len(p.script_srcs) < MAX_ITEMS:
                p.script_srcs.append(a["src"])
            self._in_script = True
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag not in _VOID and len(self._stack) < 200:
            marks = self._marked is None and (tag in _MARK_TAGS or bool(
                _MARK_WORDS.search(a.get("id", "") + " " + a.get("class", ""))))
            if marks and len(p.marked_text) < MAX_MARKED:
                self._marked = []
            self._stack.append((tag, bool(marks and self._marked is not None)))
        if tag == "form":
            if a.get("action") and len(p.links) < MAX_ITEMS:
                p.links.append((a["action"], "form"))
            self._form = Form(a.get("action", ""), a.get("method", "get").upper())
            if len(p.forms) < MAX_ITEMS:
                p.forms.append(self._form)
        elif tag == "input":
            if self._form is None:  # inputs outside a <form>: a script-driven login
                self._form = Form("", "POST", orphan=True)
                if len(p.forms) < MAX_ITEMS:
                    p.forms.append(self._form)
            if len(self._form.inputs) < MAX_ITEMS:
                self._form.inputs.append(Input(a.get("type", "text").lower(), a.get("name", ""), a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        elif any(t == tag for t, _ in self._stack):
            while self._stack:
                t, starts = self._stack.pop()
                if starts and self._marked is not None:
                    text = " ".join("".join(self._marked).split())[:400]
                    if text:
                        self.page.marked_text.append(text)
                    self._marked = None
                if t == tag:
                    break
        if tag == "title":
            self._in_title = False
        elif tag in ("h1", "h2") and self._heading is not None:
            self.page.headings.append(" ".join("".join(self._heading).split())[:200])
            self._heading = None
        elif tag == "a" and self._link is not None:
            self.page.links.append((self._link[0], self._link[1].strip()[:200]))
            self._link = None
        elif tag == "form":
            self._form = None

    def handle_data(self, data: str) -> None:
        if self._in_script and len(self.page.inline_script) < MAX_INLINE_SCRIPT:
            self.page.inline_script += data[:MAX_INLINE_SCRIPT - len(self.page.inline_script)]
        if self._marked is not None and not self._hidden and sum(map(len, self._marked)) < 800:
            self._marked.append(data + " ")
        if self._in_title:
            self.page.title += data[:MAX_TITLE - len(self.page.title)]
        if self._link is not None:
            self._link[1] += data[:400 - len(self._link[1])]
        if self._heading is not None and sum(map(len, self._heading)) < 400:
            self._heading.append(data)


def parse(text: str, limit: int = DEFAULT_LIMIT) -> Page:
    """The first `limit` characters of a page; never raises (a hostile page must not break a check)."""
    p = _Parser()
    with contextlib.suppress(Exception):  # HTMLParser is lenient, but device markup can be anything
        p.feed(text[:limit])
        p.close()
    page = p.page
    page.title = " ".join(page.title.split())
    refresh = [m.group(1) for name, content in page.meta if name == "refresh"
               and (m := _REFRESH_URL.match(content))]
    page.redirects = list(dict.fromkeys(refresh + script_redirects(page.inline_script)))[:MAX_REDIRECTS]
    return page


def script_redirects(script: str) -> list[str]:
    """Literal targets a script sends the browser to (`window.location = "/login.html"`), in order.

    A regular expression over the text, not a JavaScript interpreter: only a literal target counts,
    never one the script computes, and nothing is run. Bounded: MAX_REDIRECTS targets."""
    out: list[str] = []
    for m in _SCRIPT_REDIRECT.finditer(script[:MAX_INLINE_SCRIPT * 4]):
        target = m.group(2) or m.group(4)
        if target and target not in out:
            out.append(target)
            if len(out) >= MAX_REDIRECTS:
                break
    return out


def has_password_markup(body: bytes) -> bool:
    """Password-input markup anywhere in the bytes, scripts included.

    Deliberately not `parse`: a login page that a script writes (`'<input type="password">'`
    in JavaScript) still counts as "the login form came back" after a login attempt.
    """
    return bool(_PASSWORD_MARKUP.search(body))
