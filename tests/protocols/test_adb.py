"""ADB message parsing (probe/protocols/adb.py): round trips, header checks, and fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.protocols import adb


def test_connect_message_is_the_documented_cnxn() -> None:
    msg = adb.connect_message()
    cmd, version, maxdata, length, check, magic = struct.unpack("<6I", msg[:24])
    assert msg[:4] == b"CNXN" and version == 0x01000001 and maxdata == adb.MAX_PAYLOAD
    assert msg[24:] == b"host::\x00" and length == 7 and check == sum(b"host::\x00")
    assert magic == cmd ^ 0xFFFFFFFF


def test_round_trip_and_banner_fields() -> None:
    banner = b"device::ro.product.name=x;ro.product.model=Box 2;features=cmd,shell_v2"
    parsed, rest = adb.parse(adb.build(adb.CNXN, adb.VERSION, 4096, banner) + b"tail")
    assert (parsed.name, parsed.payload, rest) == ("CNXN", banner, b"tail")
    assert adb.banner_fields(parsed.payload) == {"ro.product.name": "x", "ro.product.model": "Box 2",
                                                 "features": "cmd,shell_v2"}


@pytest.mark.parametrize("data, why", [
    (b"CNXN" + b"\x00" * 10, "short header"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "unknown command"),
    (struct.pack("<6I", adb.CNXN, 0, 0, 0, 0, 0), "magic"),
    (struct.pack("<6I", adb.WRTE, 0, 0, adb.READ_LIMIT + 1, 0, adb.WRTE ^ 0xFFFFFFFF), "exceeds"),
    (struct.pack("<6I", adb.WRTE, 0, 0, 3, 1, adb.WRTE ^ 0xFFFFFFFF) + b"abc", "checksum"),
    (struct.pack("<6I", adb.WRTE, 0, 0, 9, 0, adb.WRTE ^ 0xFFFFFFFF) + b"abc", "short payload"),
])
def test_not_adb_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(adb.AdbError, match=why):
        adb.parse(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parse_never_crashes_and_never_reads_past_the_limit(data: bytes) -> None:
    try:
        msg, rest = adb.parse(data)
    except adb.AdbError:
        return
    assert len(msg.payload) <= adb.READ_LIMIT and len(rest) < len(data)
    adb.banner_fields(msg.payload)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(adb.COMMANDS)), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF),
       st.binary(max_size=300))
def test_every_built_message_parses_back(command: int, a0: int, a1: int, payload: bytes) -> None:
    msg, rest = adb.parse(adb.build(command, a0, a1, payload))
    assert (msg.command, msg.arg0, msg.arg1, msg.payload, rest) == (command, a0, a1, payload, b"")
