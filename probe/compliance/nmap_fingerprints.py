"""The installed nmap's http-default-accounts fingerprints, read at run time (never copied here).

nmap ships `nselib/data/http-default-accounts-fingerprints.lua`: for each web product a name, the
paths where its login lives, a `target_check` that recognises the product from one HTTP answer
(status, auth realm, Server and other headers, cookies, strings in the body), and the product's
default pairs. Its licence is nmap's, so probe keeps none of it: this module finds the file of the
nmap installed on the machine and translates each fingerprint into a few plain predicates over an
HTTP answer probe already holds. Nothing here touches the network.

Only the simple shapes the file uses are translated: a `target_check` that is one `return` of
conditions joined by `and` (optionally after `local realm = http_auth_realm(response) or ""`),
each condition a status comparison, a realm or header equality, a plain or Lua-pattern `find` on
the realm, a header or the (lower-cased) body, a header's presence, or `sets_cookie` (also as an
`or` group). Lua patterns become Python regular expressions (classes, `%f` frontiers, lazy `-`,
back-references). A fingerprint with anything else (a check that makes its own request, say) is
kept out and counted as not usable, so a match always means every condition nmap states held.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

FILE = "nselib/data/http-default-accounts-fingerprints.lua"
SOURCE = "nmap http-default-accounts fingerprints"  # how a pair from this file is labelled
_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''


@dataclass(frozen=True)
class WebAnswer:
    """One unauthenticated HTTP answer probe holds: what a fingerprint is matched against."""

    path: str
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with "\n"
    body: bytes

    @property
    def realm(self) -> str:
        m = re.search(r'\srealm\s*=\s*"([^"]*)', " " + self.headers.get("www-authenticate", ""))
        return m.group(1) if m else ""

    def cookie(self, name: str) -> bool:
        return any(c.split("=", 1)[0].strip().lower() == name.lower()
                   for c in self.headers.get("set-cookie", "").split("\n") if c)


Predicate = Callable[[WebAnswer], bool]


@dataclass
class Fingerprint:
    name: str
    category: str
    paths: list[str]
    pairs: list[tuple[str, str]]
    conditions: list[tuple[str, Predicate]] = field(default_factory=list)  # (nmap's text, test)

    def match(self, answer: WebAnswer) -> bool:
        return bool(self.conditions) and all(test(answer) for _text, test in self.conditions)


@dataclass
class NmapData:
    """What was read: the file, its usable fingerprints, and the names of those left out."""

    status: str  # read | not-installed | unreadable
    path: str | None = None
    fingerprints: list[Fingerprint] = field(default_factory=list)
    unusable: list[str] = field(default_factory=list)
    error: str = ""

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"status": self.status, "path": self.path,
                                  "usable": len(self.fingerprints), "not_usable": len(self.unusable)}
        if self.error:
            out["error"] = self.error
        return out


def locate() -> Path | None:
    """The fingerprint file of the installed nmap: $NMAPDIR, then beside the nmap binary, then the
    usual data directories. None when nmap (or this file of it) is not installed."""
    candidates = []
    if os.environ.get("NMAPDIR"):
        candidates.append(Path(os.environ["NMAPDIR"]))
    binary = shutil.which("nmap")
    if binary:
        candidates.append(Path(binary).resolve().parent.parent / "share" / "nmap")
    candidates += [Path("/usr/share/nmap"), Path("/usr/local/share/nmap")]
    for d in candidates:
        if (d / FILE).is_file():
            return d / FILE
    return None


def load(path: Path | None = None) -> NmapData:
    """Read and translate the file (located when `path` is None)."""
    path = path or locate()
    if path is None:
        return NmapData("not-installed", error="nmap's http-default-accounts fingerprints are not installed "
                                                "(no nmap, or no " + FILE + ")")
    try:
        text = path.read_text("utf-8", "replace")
    except OSError as exc:
        return NmapData("unreadable", str(path), error=str(exc))
    data = NmapData("read", str(path))
    for name, entry in _entries(_strip_comments(text)):
        fp = _fingerprint(name, entry)
        if fp is None:
            data.unusable.append(name)
        else:
            data.fingerprints.append(fp)
    if not data.fingerprints:
        data.status, data.error = "unreadable", "no fingerprint could be read from the file"
    return data


def _strip_comments(text: str) -> str:
    """Lua source without `--` comments (strings are respected)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            m = re.compile(_STRING).match(text, i)
            end = m.end() if m else n
            out.append(text[i:end])
            i = end
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _lua_string(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(m.group(1), m.group(1)), body)


def _entries(text: str) -> list[tuple[str, str]]:
    out = []
    for chunk in text.split("table.insert(fingerprints, {")[1:]:
        m = re.search(r"\bname\s*=\s*(" + _STRING + ")", chunk)
        if m:
            out.append((_lua_string(m.group(1)), chunk))
    return out


def _fingerprint(name: str, entry: str) -> Fingerprint | None:
    category = re.search(r"\bcategory\s*=\s*(" + _STRING + ")", entry)
    paths = [_lua_string(s) for s in re.findall(r"\{\s*path\s*=\s*(" + _STRING + r")\s*\}", entry)]
    combos = re.search(r"login_combos\s*=\s*\{(.*?)\n\s*\}", entry, re.S)
    pairs = [(_lua_string(u), _lua_string(p)) for u, p in re.findall(
        r"username\s*=\s*(" + _STRING + r")\s*,\s*password\s*=\s*(" + _STRING + ")", combos.group(1) if combos else "")]
    body = re.search(r"target_check\s*=\s*function\s*\([^)]*\)(.*?)\n\s*end\s*,", entry, re.S)
    if not paths or not pairs or body is None:
        return None
    conditions = _conditions(body.group(1))
    if conditions is None:
        return None
    return Fingerprint(name, _lua_string(category.group(1)) if category else "", paths, pairs, conditions)


_REALM = r'(?:\(http_auth_realm\(response\) or ""\)|realm)'


def _conditions(code: str) -> list[tuple[str, Predicate]] | None:
    code = code.strip()
    realm_local = re.match(r'local realm = http_auth_realm\(response\) or ""\s*', code)
    if realm_local:
        code = code[realm_local.end():]
    if not code.startswith("return "):
        return None
    expr = " ".join(code[len("return "):].split())
    out: list[tuple[str, Predicate]] = []
    for atom in _split_top(expr, " and "):
        test = _atom(atom.strip())
        if test is None:
            return None
        out.append((atom.strip(), test))
    return out


def _code_chars(expr: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, parenthesis depth after it) for each character outside string literals."""
    depth, i = 0, 0
    while i < len(expr):
        c = expr[i]
        if c in "\"'":
            m = re.compile(_STRING).match(expr, i)
            i = m.end() if m else len(expr)
            continue
        depth += {"(": 1, ")": -1}.get(c, 0)
        yield i, c, depth
        i += 1


def _split_top(expr: str, sep: str) -> list[str]:
    """Split at `sep` outside parentheses and strings."""
    parts, start = [], 0
    for i, _c, depth in _code_chars(expr):
        if depth == 0 and i >= start and expr.startswith(sep, i):
            parts.append(expr[start:i])
            start = i + len(sep)
    parts.append(expr[start:])
    return parts


def _wrapped(expr: str) -> bool:
    """Is the whole expression one parenthesised group (its first "(" closes at its last ")")?"""
    if not (expr.startswith("(") and expr.endswith(")")):
        return False
    for i, _c, depth in _code_chars(expr):
        if depth == 0:
            return i == len(expr) - 1
    return False


def _find_args(args: str) -> tuple[str, bool] | None:
    """`("x", 1, true)` -> ("x", plain=True); `("pat")` -> ("pat", False)."""
    m = re.fullmatch(r"\((" + _STRING + r")(\s*,\s*1\s*,\s*true)?\)", args.strip())
    if not m:
        return None
    return _lua_string(m.group(1)), bool(m.group(2))


def _finder(needle: str, plain: bool) -> Callable[[str], bool] | None:
    if plain:
        return lambda text: needle in text
    rx = lua_pattern(needle)
    if rx is None:
        return None
    return lambda text: rx.search(text) is not None


def _atom(atom: str) -> Predicate | None:
    if _wrapped(atom) and " or " in atom:
        inner = [_atom(a.strip()) for a in _split_top(atom[1:-1], " or ")]
        if any(t is None for t in inner):
            return None
        tests = [t for t in inner if t is not None]
        return lambda a: any(t(a) for t in tests)
    if atom == "have_openssl":  # nmap's own ability to hash; says nothing about the device
        return lambda a: True
    if m := re.fullmatch(r"response\.status\s*==\s*(\d+)", atom):
        code = int(m.group(1))
        return lambda a: a.status == code
    if atom == "response.body":
        return lambda a: bool(a.body)
    if m := re.fullmatch(r"sets_cookie\(response,\s*(" + _STRING + r")\)", atom):
        name = _lua_string(m.group(1))
        return lambda a: a.cookie(name)
    if m := re.fullmatch(r"http_auth_realm\(response\)\s*==\s*(" + _STRING + ")", atom):
        want = _lua_string(m.group(1))
        return lambda a: a.realm == want
    if m := re.fullmatch(_REALM + r'(:gsub\("_"\s*,\s*" "\))?:find(\(.*\))', atom):
        under = bool(m.group(1))
        return _on(lambda a: a.realm.replace("_", " ") if under else a.realm, m.group(2))
    if m := re.fullmatch(r"response\.body(:lower\(\))?:find(\(.*\))", atom):
        lower = bool(m.group(1))
        return _on(lambda a: _text(a.body).lower() if lower else _text(a.body), m.group(2))
    header = r"response\.header\[(" + _STRING + r")\]"
    if m := re.fullmatch(header, atom):
        name = _lua_string(m.group(1)).lower()
        return lambda a: name in a.headers
    if m := re.fullmatch(header + r"\s*==\s*(" + _STRING + ")", atom):
        name, want = _lua_string(m.group(1)).lower(), _lua_string(m.group(2))
        return lambda a: a.headers.get(name) == want
    if m := re.fullmatch(r"\(?" + header + r'(?:\s*or\s*""\))?:find(\(.*\))', atom):
        name = _lua_string(m.group(1)).lower()
        return _on(lambda a: a.headers.get(name, "\0absent"), m.group(2))
    return None


def _on(subject: Callable[[WebAnswer], str], find_args: str) -> Predicate | None:
    """`subject(answer):find(find_args)` as a predicate (an absent header never matches)."""
    args = _find_args(find_args)
    f = _finder(*args) if args else None
    if f is None:
        return None
    return lambda a: (text := subject(a)) != "\0absent" and f(text)


def _text(body: bytes) -> str:
    return body.decode("latin-1")  # byte-for-byte, as Lua's string.find sees it


_CLASSES = {"d": r"0-9", "u": r"A-Z", "l": r"a-z", "a": r"A-Za-z", "w": r"A-Za-z0-9", "s": r"\s",
            "x": r"0-9A-Fa-f", "p": r"!-/:-@\[-`{-~", "c": r"\x00-\x1f"}


def _class_item(p: str, i: int) -> tuple[str, int] | None:
    """One item inside [...] at p[i]: returns (regex text, next index)."""
    c = p[i]
    if c == "%" and i + 1 < len(p):
        e = p[i + 1]
        if e in _CLASSES:
            return _CLASSES[e], i + 2
        if e.isalpha():
            return None  # a negated class (%S, %D ...) inside a set: not translated
        return re.escape(e), i + 2
    if c == "\0":
        return r"\x00", i + 1
    if c in "\\]^-[":
        return "\\" + c, i + 1
    return c, i + 1


def _set(p: str, i: int) -> tuple[str, int] | None:
    """A Lua set starting at p[i] == '[': returns (regex class, index after ']')."""
    i += 1
    neg = i < len(p) and p[i] == "^"
    if neg:
        i += 1
    items, first = [], True
    while i < len(p) and (p[i] != "]" or first):
        if i + 2 < len(p) and p[i + 1] == "-" and p[i + 2] != "]" and p[i] != "%":
            items.append(re.escape(p[i]) + "-" + re.escape(p[i + 2]))
            i += 3
        else:
            item = _class_item(p, i)
            if item is None:
                return None
            items.append(item[0])
            i = item[1]
        first = False
    if i >= len(p):
        return None
    return "[" + ("^" if neg else "") + "".join(items) + "]", i + 1


def lua_pattern(p: str) -> re.Pattern[str] | None:
    """A Lua pattern as a Python regular expression, or None for what is not translated."""
    out: list[str] = []
    i = 0
    while i < len(p):
        c = p[i]
        atom: str | None
        if c == "%" and i + 1 < len(p):
            e = p[i + 1]
            if e == "f" and i + 2 < len(p) and p[i + 2] == "[":
                s = _set(p, i + 2)
                if s is None:
                    return None
                cls, i = s
                end_ok = "\\x00" in cls  # Lua's frontier sees "\0" past the end of the subject
                not_cls = "[^" + cls[1:] if not cls.startswith("[^") else "[" + cls[2:]
                ahead = f"(?:(?={cls})|$)" if end_ok else f"(?={cls})"
                out.append(f"(?<!{cls}){ahead}" if not end_ok else f"(?:(?<={not_cls})|^){ahead}")
                continue
            if e.isdigit():
                atom, i = "\\" + e, i + 2
            elif e in _CLASSES:
                atom, i = "[" + _CLASSES[e] + "]", i + 2
            elif e.isalpha():
                return None  # %b, %S, %D ...: not used by the file as probe reads it
            else:
                atom, i = re.escape(e), i + 2
        elif c == "[":
            s = _set(p, i)
            if s is None:
                return None
            atom, i = s
        elif c == ".":
            atom, i = "(?s:.)", i + 1
        elif c in "^$" and (i == 0 if c == "^" else i == len(p) - 1):
            atom, i = ("^" if c == "^" else r"\Z"), i + 1
        elif c in "()":
            atom, i = c, i + 1
        else:
            atom, i = re.escape(c), i + 1
        if i < len(p) and p[i] in "*+?-" and atom not in ("(", ")", "^", r"\Z"):
            atom += {"*": "*", "+": "+", "?": "?", "-": "*?"}[p[i]]
            i += 1
        out.append(atom)
    try:
        return re.compile("".join(out))
    except re.error:
        return None
