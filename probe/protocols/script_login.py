"""Script-driven web logins: what a login page's JavaScript sends, read from its text, never run.

Many routers' and cameras' web UIs have no HTML form: the login page's script reads the input
boxes and sends an XHR/fetch POST to an API path, usually with a JSON body
(`fetch("/api/login", {method: "POST", body: JSON.stringify({username: u, password: p})})`,
`$.ajax({url: ..., data: ...})`, `xhr.open("POST", ...)`). The page's script names the path and
the field names, so a reader of the text can send the same request a browser would.

This module finds such calls with bounded regular expressions over the script text (no
interpreter: nothing is evaluated, nothing fetched), builds the request for one attempt, and says
what the answer means. It is strict on purpose:

- only a call whose path or constant fields say "login" (login, logon, signin, auth, session) and
  that sends exactly one password field is taken; a call that looks like a settings change
  (set/change/update/save/reset/new/old words, two password fields) never is: the only
  state-changing request probe may send is the login itself;
- a login probe cannot reproduce exactly is reported, not guessed: a password the script salts,
  keys or transforms with a function probe does not know (`encrypt(pw, key)`, `md5(u + pw + n)`),
  or another field the script computes, makes the login `problem`, and the caller must not claim
  a PASS on it. A transform of the password alone that probe knows (md5/sha1/sha256 hex, base64,
  encodeURIComponent) is applied to each candidate, as the script would (`transform`);
- a body or query the script builds by concatenation (`"user=" + u + "&pwd=" + p`) is read like
  an object literal; cache-busting fields (`Date.now()`) get the time when sent;
- a token field (csrf, token, nonce) is filled from the login page fetched fresh for every
  attempt (a hidden input or meta tag of that name), or from a cookie of that name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus, urlencode

MAX_SCRIPT = 512 * 1024  # characters of script text read
MAX_OBJECTS = 200  # object literals looked at per script text
MAX_LOGINS = 4  # script logins kept per page
ASSIGN_WINDOW = 4000  # characters before a login call searched for the assignment of its password variable
_LOGIN_WORD = re.compile(r"(?i)log_?in|log_?on|sign_?in|sign-in|auth|session")
# words of a request that changes the device rather than logging in: never sent
_CHANGE_WORD = re.compile(r"(?i)change|(?<![a-z])set(?![a-z])|set_?pass|update|save|reset|modify|delete|remove|"
                          r"add_?user|new_?pass|old_?pass|confirm|reboot|upgrade|register")
_PASSWORD_KEY = re.compile(r"(?i)^(?:\w*pass(?:word|wd|wrd)?|\w*pwd|pswd|\w*_pw|pw)$")
_USER_KEY = re.compile(r"(?i)^(?:\w*user(?:_?name|_?id)?|usr|uname|login(?:_?name|_?id)?|name|account|"
                       r"admin_?name|email)$")
_TOKEN_KEY = re.compile(r"(?i)csrf|xsrf|token|nonce|_tk$")
# calls that transform the password before it is sent (reproduced only when in _REPRODUCIBLE)
_TRANSFORM = re.compile(r"(?i)\b(?:\w*md5|sha\w*|hex_\w+|b64\w*|btoa|base64\w*|\w*encrypt\w*|\w*encode\w*|"
                        r"\w*hash\w*|rsa\w*|aes\w*|\w*crypt\w*|cipher\w*|hmac\w*|\w*digest\w*)\s*\(")
# transforms of the password alone that probe applies itself, by the function's name (hex_, CryptoJS. and
# window. dropped): what a script sends then is still a function of the password only
_REPRODUCIBLE = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "encodeuricomponent": "uri", "btoa": "base64",
                 "base64.encode": "base64", "base64encode": "base64", "base64_encode": "base64", "b64encode": "base64"}
_OBJECT = re.compile(r"\{([^{}]{1,800})\}")
_LITERAL = r"""(["'`])((?:(?!\1)[^\\\n]|\\.){0,300})\1"""
# (pattern, group of the path literal): where a request's URL is written
_URL_SITES = [
    re.compile(r"\bfetch\s*\(\s*" + _LITERAL),
    re.compile(r"""\.open\s*\(\s*["'](?:POST|GET|PUT)["']\s*,\s*""" + _LITERAL, re.I),
    re.compile(r"""\b(?:url|action|path|endpoint|uri|api)["']?\s*:\s*""" + _LITERAL, re.I),
    re.compile(r"\.(?:post|get|ajax|request|put)\s*\(\s*" + _LITERAL),
]
_ANY_LITERAL = re.compile(_LITERAL)
_CLOCK = re.compile(r"(?:\+\s*)?(?:Date\.now\(\)|new Date\(\)\.getTime\(\)|\(new Date\(\)\)\.getTime\(\)|"
                    r"new Date\(\)|Math\.random\(\))")
# a string literal ending in `key=` and followed by `+`: a body or query built by concatenation
_CONCAT_KEY = re.compile(r"""(["'])((?:[^"'\\\n]|\\.){0,300}?(?:^|[?&]|(?<=["']))(\w{1,40})=)\1\s*\+""")
_GET_METHOD = re.compile(r"""(?i)\.open\s*\(\s*["']GET["']|\b(?:type|method)\s*:\s*["']GET["']|\$\.get\s*\(""")
_JSON_HINT = re.compile(r"(?i)JSON\.stringify|application/json|axios")
_NOT_API = re.compile(r"(?i)\.(?:html?|js|css|png|jpe?g|gif|svg|ico|woff2?)(?:[?#].*)?$|^(?:application|text|"
                      r"multipart)/|^[#.]|^https?://|^//|\s")
_LOCK_WORDS = re.compile(rb"(?i)lock|too many|try again|retry|blocked|wait \d|attempts? (?:left|remaining)")
_VOLATILE_STR = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9+/=_.:-]{16,}$|^\d{9,}$")
_VOLATILE_BYTES = re.compile(rb"[A-Za-z0-9+/=_-]{24,}|\b\d{9,}\b")


@dataclass(frozen=True)
class ScriptLogin:
    """One login request a page's script sends, as read from its text."""

    path: str  # where it goes, as written in the script (resolve against the page's URL)
    method: str  # POST | GET
    encoding: str  # json | form (jQuery sends an object as a form, fetch/axios with JSON.stringify as JSON)
    password_field: str
    user_field: str | None  # None: a password-only login (many routers)
    constants: tuple[tuple[str, object], ...] = ()  # fields the script writes as literals, sent as written
    tokens: tuple[str, ...] = ()  # fields the script fills from the page: fetched fresh per attempt
    transform: str | None = None  # md5 | sha1 | sha256 | base64 | uri: what the script sends instead of the password
    problem: str | None = None  # why probe cannot reproduce this login exactly (then it proves nothing)
    excerpt: str = ""  # the script text it was read from (evidence)
    order: tuple[str, ...] = ()  # the fields in the order the script writes them (the body keeps it)
    clock: tuple[str, ...] = ()  # cache-busting fields (Date.now(), Math.random()): the time in ms when sent

    def describe(self) -> str:
        kind = "JSON" if self.encoding == "json" else "form-encoded"
        sent = f", password sent as {self.transform}(password)" if self.transform else ""
        return f"{kind} {self.method} to {self.path}{sent}"


def _split_top(body: str) -> list[str]:
    """Comma-separated parts of an object literal's body, commas inside (), [] or quotes ignored."""
    parts, depth, quote, cur = [], 0, "", []
    i = 0
    while i < len(body):
        c = body[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(body):
                cur.append(body[i + 1])
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
            cur.append(c)
        elif c in "([":
            depth += 1
            cur.append(c)
        elif c in ")]":
            depth = max(0, depth - 1)
            cur.append(c)
        elif c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_PAIR = re.compile(r"""^(?:(["'])(?P<q>[^"']{1,80})\1|(?P<k>[A-Za-z_$][\w$]{0,80}))\s*(?::\s*(?P<v>.+))?$""", re.S)


def _literal(value: str) -> tuple[bool, object]:
    """(is a literal, its value) for a JavaScript literal: string, number, true/false/null."""
    v = value.strip()
    m = re.fullmatch(_LITERAL, v, re.S)
    if m:
        return True, m.group(2).replace("\\'", "'").replace('\\"', '"')
    if re.fullmatch(r"-?\d{1,15}(?:\.\d{1,6})?", v):
        return True, json.loads(v)
    if v in ("true", "false", "null"):
        return True, json.loads(v)
    return False, None


def _call_argument(expr: str, open_at: int) -> str | None:
    """The text between the parenthesis at `open_at` and its match, or None when it never closes."""
    depth, quote = 0, ""
    for i in range(open_at, min(len(expr), open_at + 400)):
        c = expr[i]
        if quote:
            quote = "" if c == quote and expr[i - 1] != "\\" else quote
        elif c in "\"'`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return expr[open_at + 1:i]
    return None


def _has_top_level(arg: str, chars: str) -> bool:
    """A `+` or `,` outside parentheses and quotes: the call mixes the password with something else."""
    depth, quote = 0, ""
    for i, c in enumerate(arg):
        if quote:
            quote = "" if c == quote and arg[i - 1] != "\\" else quote
        elif c in "\"'`":
            quote = c
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c in chars and depth == 0:
            return True
    return False


def _transform(expr: str, before: str) -> tuple[str | None, str | None]:
    """How the script transforms the password before sending it: (a transform probe reproduces,
    or None; why it cannot reproduce it, or None). Read from the value expression or, for a bare
    variable, from the last assignment to it in `before` (the script text before the call).

    Reproduced: exactly md5 / sha1 / sha256 (hex), base64 or encodeURIComponent of the password itself, nothing mixed in
    (`hex_md5(pw)`, `btoa(pw)`). A salt, a key, a nonce or any other function is not."""
    m = _TRANSFORM.search(expr)
    if m is None:
        var = re.fullmatch(r"[A-Za-z_$][\w$]*", expr.strip())
        if not var:
            return None, None
        assigns = list(re.finditer(r"\b" + re.escape(var.group(0)) + r"\s*=(?!=)\s*([^;\n]{0,200})", before))
        if not assigns:
            return None, None
        expr = assigns[-1].group(1)
        m = _TRANSFORM.search(expr)
        if m is None:
            return None, None
    name = m.group(0).rstrip("( \t")
    full = re.search(r"[\w$.]*$", expr[:m.start()])
    qualified = (full.group(0) if full else "") + name
    arg = _call_argument(expr, m.end() - 1)
    why = (f"the page's script transforms the password with {qualified}(...) before sending it; probe cannot "
           "reproduce that, so this login cannot be tried or proven")
    if arg is None or _has_top_level(arg, "+,") or _TRANSFORM.search(arg):
        return None, why
    kind = _REPRODUCIBLE.get(re.sub(r"(?i)^(?:window\.)?(?:hex_?|cryptojs\.)?", "", qualified).lower())
    return (kind, None) if kind else (None, why)


def _url_before(script: str, start: int, end: int) -> tuple[str | None, int]:
    """The request URL written nearest before `end` (within start..end), and where it is."""
    best: tuple[str | None, int] = (None, -1)
    window = script[start:end]
    for site in _URL_SITES:
        for m in site.finditer(window):
            lit = m.group(2)
            if lit and not _NOT_API.search(lit) and ("/" in lit or "?" in lit or "." in lit) \
                    and m.start() > best[1]:
                best = (lit, m.start())
    return best[0], start + best[1] if best[0] else -1


def _url_after(script: str, start: int, end: int) -> str | None:
    """A request URL written just after the object (`$.post(obj)` is rare; `xhr.send` after `open`)."""
    for site in _URL_SITES:
        m = site.search(script, start, end)
        if m and m.group(2) and not _NOT_API.search(m.group(2)):
            return m.group(2)
    return None


def _named_login_path(script: str) -> str | None:
    """A path literal anywhere in the script that names a login (`const LOGIN = "/api/auth"`)."""
    for m in _ANY_LITERAL.finditer(script):
        lit = m.group(2)
        if ("/" in lit or lit.endswith((".cgi", ".php", ".asp", ".lua"))) and _LOGIN_WORD.search(lit) \
                and not _NOT_API.search(lit) and not _CHANGE_WORD.search(lit):
            return lit
    return None


def find(script: str) -> list[ScriptLogin]:
    """The login requests a page's script text sends (at most MAX_LOGINS), most explicit first."""
    text = script[:MAX_SCRIPT]
    out: list[ScriptLogin] = []
    named: list[str | None] = []  # the script's named login path, looked up once, when first needed
    for n, obj in enumerate(_OBJECT.finditer(text)):
        if n >= MAX_OBJECTS or len(out) >= MAX_LOGINS:
            break
        login = _from_object(text, obj, named)
        if login is not None and all((o.path, o.password_field) != (login.path, login.password_field) for o in out):
            out.append(login)
    for n, lit in enumerate(_CONCAT_KEY.finditer(text)):
        if n >= MAX_OBJECTS or len(out) >= MAX_LOGINS:
            break
        if not _PASSWORD_KEY.match(lit.group(3)):
            continue
        login = _from_concat(text, lit, named)
        if login is not None and all((o.path, o.password_field) != (login.path, login.password_field) for o in out):
            out.append(login)
    return out


def _operand_back(text: str, end: int) -> int | None:
    """Start of the operand that ends just before `end` (a literal, or an expression such as
    `$("#p").val()` or `form.pwd.value`), or None."""
    i = end - 1
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    if i < 0:
        return None
    if text[i] in "\"'":
        j = text.rfind(text[i], max(0, i - 300), i)
        return j if j >= 0 else None
    depth, j = 0, i
    while j >= 0 and i - j < 300:
        c = text[j]
        if c in ")]":
            depth += 1
        elif c in "([":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and not (c.isalnum() or c in "_$."):
            break
        j -= 1
    return j + 1 if j + 1 <= i else None


def _operand_forward(text: str, start: int) -> int | None:
    """End of the operand that starts at `start` (after white space), or None."""
    i = start
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    if i >= len(text):
        return None
    if text[i] in "\"'":
        j = text.find(text[i], i + 1, i + 302)
        return j + 1 if j > 0 else None
    depth, j = 0, i
    while j < len(text) and j - i < 300:
        c = text[j]
        if c in "([":
            depth += 1
        elif c in ")]":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and not (c.isalnum() or c in "_$."):
            break
        elif depth > 0 and c in "\"'":
            k = text.find(c, j + 1, j + 302)
            j = k if k > 0 else j
        j += 1
    return j if j > i else None


def _from_concat(text: str, lit: re.Match[str], named_cache: list[str | None]) -> ScriptLogin | None:
    """A login whose body (or query) the script builds by concatenation:
    `xhr.send("username=" + u + "&password=" + p)`, `$.post("/login.cgi", "pwd=" + p)`,
    `xhr.open("GET", "/login.cgi?user=" + u + "&pass=" + p)`."""
    parts: list[tuple[bool, str]] = [(True, lit.group(2))]  # (is a literal, text)
    start = lit.start()
    for _ in range(20):  # operands before: ... + X + "&password="
        k = start - 1
        while k >= 0 and text[k] in " \t\r\n":
            k -= 1
        if k < 0 or text[k] != "+":
            break
        b = _operand_back(text, k)
        if b is None:
            return None
        operand = text[b:k].strip()
        parts.insert(0, (operand[:1] in "\"'", operand[1:-1] if operand[:1] in "\"'" else operand))
        start = b
    end = lit.end(2) + 1  # just after the literal's closing quote
    for _ in range(20):  # operands after: "&password=" + p + "&lang=en"
        k = end
        while k < len(text) and text[k] in " \t\r\n":
            k += 1
        if k >= len(text) or text[k] != "+":
            break
        e = _operand_forward(text, k + 1)
        if e is None:
            return None
        operand = text[k + 1:e].strip()
        parts.append((operand[:1] in "\"'", operand[1:-1] if operand[:1] in "\"'" else operand))
        end = e
    exprs: list[str] = []
    joined = ""
    for is_lit, part in parts:
        if is_lit:
            joined += part
        else:
            joined += f"\x00{len(exprs)}\x00"
            exprs.append(part)
    path = method = None
    if "?" in joined.split("=", 1)[0]:  # "/login.cgi?user=" + u: the URL itself carries the login
        path, joined = joined.split("?", 1)
        method = "GET"
        if not path or "\x00" in path or _NOT_API.search(path):
            return None
    pairs: list[tuple[str, str | None]] = []
    for item in joined.split("&"):
        key, eq, value = item.partition("=")
        if not eq or not re.fullmatch(r"[\w.\-\[\]]{1,80}", key):
            return None
        m = re.fullmatch(r"\x00(\d+)\x00", value)
        if m:
            pairs.append((key, exprs[int(m.group(1))]))
        elif "\x00" in value:
            pairs.append((key, "(" + re.sub(r"\x00(\d+)\x00", lambda g: exprs[int(g.group(1))], value) + ")"))
        else:
            pairs.append((key, json.dumps(unquote_plus(value))))
    return _from_pairs(text, pairs, start, end, named_cache, path=path, method=method, encoding="form")


def _from_object(text: str, obj: re.Match[str], named_cache: list[str | None]) -> ScriptLogin | None:
    pairs: list[tuple[str, str | None]] = []
    for part in _split_top(obj.group(1)):
        m = _PAIR.match(part)
        if not m:
            return None  # not an object literal of plain keys (a function body, a spread...)
        pairs.append((m.group("q") or m.group("k"), m.group("v")))
    return _from_pairs(text, pairs, obj.start(), obj.end(), named_cache)


def _from_pairs(text: str, pairs: list[tuple[str, str | None]], obj_start: int, obj_end: int,
                named_cache: list[str | None], *, path: str | None = None, method: str | None = None,
                encoding: str | None = None) -> ScriptLogin | None:
    """A login from the fields a call sends ((key, JavaScript value expression) in the script's
    order; None: shorthand), written at obj_start..obj_end of the script text."""
    passwords = [k for k, _ in pairs if _PASSWORD_KEY.match(k)]
    if len(passwords) != 1:
        return None  # no password, or old/new/confirm: not a login
    keys = " ".join(k for k, _ in pairs)
    if _CHANGE_WORD.search(keys):
        return None
    where = obj_start
    if path is None:
        path, where = _url_before(text, max(0, obj_start - 800), obj_start)
    if path is None:
        path = _url_after(text, obj_end, min(len(text), obj_end + 300))
        where = obj_end
    constants: list[tuple[str, object]] = []
    tokens: list[str] = []
    user: str | None = None
    problem: str | None = None
    transform: str | None = None
    clock: list[str] = []
    password = passwords[0]
    for key, value in pairs:
        expr = key if value is None else value.strip()  # shorthand {username, password}
        if key == password:
            transform, why = _transform(expr, text[max(0, obj_start - ASSIGN_WINDOW):obj_start])
            problem = problem or why
            continue
        is_lit, lit = _literal(expr) if value is not None else (False, None)
        if user is None and _USER_KEY.match(key) and not is_lit:
            user = key
        elif is_lit:
            constants.append((key, lit))
        elif _TOKEN_KEY.search(key):
            tokens.append(key)
        elif _CLOCK.fullmatch(expr.strip()):
            clock.append(key)  # a cache-buster: any fresh value does
        elif re.search(r"\.checked\b|:checked", expr):
            constants.append((key, False))  # an unticked "remember me" box
        elif _USER_KEY.match(key) and user is not None:
            problem = problem or f"the page's script sends two user fields ({user}, {key})"
        else:
            problem = problem or (f"the page's script computes the field {key!r} ({expr[:60]}); probe cannot "
                                  "reproduce it")
    says_login = bool(path and _LOGIN_WORD.search(path)) or any(
        isinstance(v, str) and _LOGIN_WORD.search(v) for _, v in constants) or any(
        _LOGIN_WORD.search(k) for k, _ in constants)
    if not says_login and path is None:
        if not named_cache:
            named_cache.append(_named_login_path(text))
        named = named_cache[0]
        if named:
            path, says_login = named, True
    if not says_login or path is None or _CHANGE_WORD.search(path) or any(
            isinstance(v, str) and _CHANGE_WORD.search(v) for _, v in constants):
        return None
    window = text[max(0, min(where, obj_start) - 400):obj_end + 200]
    encoding = encoding or ("json" if _JSON_HINT.search(window) else "form")
    method = method or ("GET" if _GET_METHOD.search(text[max(0, where - 40):obj_end]) else "POST")
    excerpt = text[max(0, min(where, obj_start)):obj_end][-600:]
    return ScriptLogin(path, method, encoding, password, user, tuple(constants), tuple(tokens), transform, problem,
                       " ".join(excerpt.split()), tuple(k for k, _ in pairs), tuple(clock))


def body(login: ScriptLogin, username: str, password: str, tokens: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The request body and headers for one attempt (as the page's script would send them)."""
    values: dict[str, object] = dict(login.constants)
    values.update((k, int(time.time() * 1000)) for k in login.clock)
    values.update(tokens)
    if login.user_field:
        values[login.user_field] = username
    values[login.password_field] = sent_password(login, password)
    data = {k: values[k] for k in login.order if k in values}
    data.update((k, v) for k, v in values.items() if k not in data)
    headers = {"X-Requested-With": "XMLHttpRequest"}
    if login.encoding == "json":
        headers["Content-Type"] = "application/json"
        return json.dumps(data, separators=(",", ":")).encode(), headers
    flat = {k: ("true" if v is True else "false" if v is False else "" if v is None else str(v))
            for k, v in data.items()}
    headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
    return urlencode(flat).encode(), headers


def sent_password(login: ScriptLogin, password: str) -> str:
    """What the page's script would send for `password` (its md5/sha1/sha256 hex, base64 or
    encodeURIComponent form, or itself)."""
    if login.transform in ("md5", "sha1", "sha256"):
        return hashlib.new(login.transform, password.encode("utf-8")).hexdigest()
    if login.transform == "uri":
        return quote(password, safe="-_.!~*'()")
    if login.transform == "base64":
        return base64.b64encode(password.encode("utf-8")).decode("ascii")
    return password


def _mask(value: object) -> object:
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_mask(v) for v in value[:50]]
    if isinstance(value, str) and _VOLATILE_STR.match(value):
        return "<volatile>"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1e9:
        return "<volatile>"
    return value


def signature(status: int, body_bytes: bytes) -> str:
    """What an answer says, without what changes on every answer (session ids, nonces, times): two
    wrong passwords must give the same signature, and a login a different one."""
    try:
        doc = json.loads(body_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        stable = _VOLATILE_BYTES.sub(b"<volatile>", body_bytes)
        return f"{status}:text:{hashlib.sha256(stable).hexdigest()}"
    return f"{status}:json:{hashlib.sha256(json.dumps(_mask(doc), sort_keys=True).encode()).hexdigest()}"


def says_locked(body_bytes: bytes) -> bool:
    """The answer speaks of a lock-out or a wait (then it is not a login, whatever else it says)."""
    return bool(_LOCK_WORDS.search(body_bytes[:8192]))
