"""Property-based fuzzing of the two loaders that landed late: credential CSV files
(`--credentials`) and manufacturer declarations (`--declaration`, `probe declaration --check`).

The contract is the one every user-file parser has (tests/hostile/test_fuzz_parsers.py): any input
either loads or raises UserError with a ONE-line message; nothing else escapes. Declarations also
name the line when the problem is located in the text: every error from `declaration.parse` reads
`<file>:<line>: ...`. Bounded (max_examples, no per-example deadline) to a few seconds in all.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.compliance import declaration
from probe.compliance.catalog import load_catalog
from probe.errors import UserError
from probe.services import credentials

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CATALOG = load_catalog()
LOCATED = re.compile(r"^fuzz\.yaml:\d+: \S")


def _one_line(exc: UserError) -> str:
    msg = str(exc)
    assert "\n" not in msg and "\r" not in msg, repr(msg)
    assert msg.strip(), "empty error message"
    return msg


# ------------------------------------------------------------------------------ credentials

_cells = st.one_of(st.sampled_from(["ssh", "telnet", "ftp", "http", "https", "mqtt", "snmp", "*", "SSH ", "smtp",
                                    "", "admin", "root", "1", "-3", "x", "#c", '"q,uoted"', '"un"closed']),
                   st.text(max_size=8))
_rows = st.lists(st.lists(_cells, min_size=0, max_size=7), max_size=6)
_headers = st.one_of(st.just(list(credentials.COLUMNS)), st.just(["service", "username", "password"]),
                     st.permutations(list(credentials.COLUMNS)), st.lists(_cells, max_size=6))
_seps = st.sampled_from([",", ";", "\t", ",\x00", ", "])
_ends = st.sampled_from(["\n", "\r\n", "\r", "\x00\n", "\u2028", "\n\n"])


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    header, rows = draw(_headers), draw(_rows)
    sep, end = draw(_seps), draw(_ends)
    text = end.join(sep.join(r) for r in [header, *rows])
    if draw(st.booleans()):  # splice raw noise somewhere: quotes, NULs, stray line ends, long fields
        pos = draw(st.integers(0, len(text)))
        noise = draw(st.one_of(st.text(alphabet='",\r\n\x00\\ab#', max_size=12), st.just("x" * 140_000)))
        text = text[:pos] + noise + text[pos:]
    return text


@FAST
@given(st.one_of(csv_texts(), st.text(max_size=200)))
def test_credential_csv_loads_or_one_line_user_error(text: str) -> None:
    try:
        creds = credentials.parse(text, "fuzz.csv", secret=True)
    except UserError as exc:
        assert _one_line(exc).startswith("fuzz.csv")
        return
    for c in creds:
        assert c.service in credentials.SERVICES and c.secret
        assert "\n" not in c.username + c.password and "\r" not in c.username + c.password
        assert isinstance(c.rank, int)


@FILES
@given(st.binary(max_size=300))
def test_credential_file_bytes_load_or_one_line_user_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "creds.csv"
        path.write_bytes(raw)
        try:
            credentials.load_user_file(path)
        except UserError as exc:
            _one_line(exc)


# ------------------------------------------------------------------------------ declarations

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=False),
                     st.text(max_size=15), st.sampled_from(["2030-12-31", "2030-02-30", "https://example.com/x",
                                                            "mailto:a@b.example", "ftp://x", "1.0.0", "tel:+1"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                       max_leaves=15)
_field_names = st.sampled_from(sorted(declaration.load_schema()["properties"]) + ["Model", "extra", "clauses"])
_clause_ids = st.sampled_from([c.id for c in CATALOG.clauses][:8] + ["cls:9.9-9", "nope", ""])
_clause_entries = st.dictionaries(_clause_ids, st.one_of(
    st.fixed_dictionaries({"statement": st.text(max_size=20)},
                          optional={"document": _scalars, "url": _scalars, "other": _scalars}), _values),
    max_size=3)


@st.composite
def declaration_docs(draw: st.DrawFn) -> str:
    """Mostly-valid declarations with one or two things wrong, dumped as YAML."""
    doc: dict = {"declaration_version": draw(st.sampled_from([1, 2, "1"])), "manufacturer": "ACME", "model": "X-1"}
    for name in draw(st.lists(_field_names, max_size=4)):
        doc[name] = draw(st.one_of(_clause_entries, _values) if name == "clauses" else _values)
    for name in draw(st.lists(st.sampled_from(["manufacturer", "model", "declaration_version"]), max_size=1)):
        doc.pop(name, None)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=draw(st.booleans()))
    return text


_yaml_bits = st.sampled_from([
    "manufacturer: ACME\n", "model: X\n", "declaration_version: 1\n", "clauses:\n", "  cls:5.1-1:\n",
    "    statement: s\n", "- a\n", "? [a, b]\n: c\n", "? {x: 1}\n: y\n", "&a x: 1\n", "*a\n", "<<: *a\n",
    "model: &m [1]\n", "product: *m\n", "{", "}", "[", "'", '"', "\t", ": ", "---\n", "...\n", "%YAML 1.1\n",
    "!!python/object:os.system x\n", "!!binary x\n", "key: !!int x\n", "model: X\nmodel: Y\n", "\x00", "\x85",
    "\ufeff", "\U0001f600", "support_period_end: 2030-13-01\n", "support_period_end: 2030-12-31\n",
    "a: [" * 40, "- " * 40 + "x\n", "1: 2\n", "null: x\n", "? \n: \n", "|\n  x\n", ">-\n x\n",
])


@FAST
@given(st.one_of(declaration_docs(), st.lists(_yaml_bits, max_size=10).map("".join), st.text(max_size=120)))
def test_declaration_parse_loads_or_located_one_line_user_error(text: str) -> None:
    try:
        data, lines = declaration.parse(text, "fuzz.yaml", CATALOG)
    except UserError as exc:
        msg = _one_line(exc)
        assert LOCATED.match(msg), f"no line number: {msg!r}"
        return
    assert isinstance(data, dict) and {"declaration_version", "manufacturer", "model"} <= set(data)
    assert all(isinstance(n, int) and n >= 1 for n in lines.values())
    for cid in data.get("clauses") or {}:
        assert cid in CATALOG.by_id


@FILES
@given(st.one_of(st.binary(max_size=300), declaration_docs().map(lambda t: t.encode("utf-8"))))
def test_declaration_file_loads_or_one_line_user_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "decl.yaml"
        path.write_bytes(raw)
        try:
            decl = declaration.load_declaration(path, CATALOG)
        except UserError as exc:
            _one_line(exc)
            return
        assert decl.raw == raw and decl.sha256


def test_declaration_deep_nesting_is_a_located_user_error() -> None:
    """Found by the fuzzer's kind of input: nesting deep enough to exhaust Python's recursion."""
    for text in ("model: " + "[" * 5000 + "]" * 5000 + "\n", "- " * 3000 + "x\n"):
        try:
            declaration.parse(text, "fuzz.yaml", CATALOG)
        except UserError as exc:
            assert LOCATED.match(_one_line(exc))
        else:
            raise AssertionError("deep nesting accepted as a declaration")


# What the fuzzers found (kept as plain examples, so a regression fails without luck).
FOUND_DECLARATIONS = [
    ("\x1f", 1),  # the YAML reader refuses control characters before parsing (no mark, multi-line str)
    ("model: X\n? [a, b]\n: c\n", 2),  # a list as a key: TypeError (unhashable) in the duplicate-key check
    ("manufacturer: A\nkey: !!int x\n", 2),  # an explicit tag on a bad value: ValueError from the constructor
]


def test_found_declaration_inputs_are_located_user_errors() -> None:
    for text, line in FOUND_DECLARATIONS:
        try:
            declaration.parse(text, "fuzz.yaml", CATALOG)
        except UserError as exc:
            assert _one_line(exc).startswith(f"fuzz.yaml:{line}: "), (text, str(exc))
        else:
            raise AssertionError(f"accepted: {text!r}")


def test_found_credential_inputs_are_user_errors() -> None:
    header = ",".join(credentials.COLUMNS) + "\n"
    for text, line in ((header + "ssh,admin," + "x" * 140_000 + ",d,1\n", 2),  # csv.Error: field limit
                       (header + 'ssh,"admin\r\n', 2)):  # quoted field running into the end of file
        try:
            credentials.parse(text, "fuzz.csv", secret=True)
        except UserError as exc:
            assert _one_line(exc).startswith(f"fuzz.csv:{line}: "), str(exc)[:200]
        else:
            raise AssertionError("accepted")
