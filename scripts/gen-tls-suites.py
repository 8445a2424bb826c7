#!/usr/bin/env python3
"""Regenerate probe/data/tls/cipher_suites.csv (code, IANA name, OpenSSL name).

Why: the TLS scanner offers every registered suite itself, so the table must not depend on what
the local OpenSSL supports. Codes and IANA names come from scapy's transcription of the IANA
"TLS Cipher Suites" registry (installed here as a dependency); OpenSSL names are added where the
local OpenSSL knows the suite (`openssl ciphers -stdname -V`). Where the two disagree on a name
OpenSSL's standard name wins (it follows the RFCs, e.g. TLS_PSK_DHE_WITH_AES_128_CCM_8) and the
disagreement is printed. SSLv2 (3-byte) codes and signalling values
are left out: probe never offers them as suites.
"""
import csv
import subprocess
import sys
from pathlib import Path

from scapy.layers.tls.crypto.suites import _tls_cipher_suites

out = Path(__file__).resolve().parent.parent / "probe" / "data" / "tls" / "cipher_suites.csv"
ossl: dict[int, tuple[str, str]] = {}
text = subprocess.run(["openssl", "ciphers", "-stdname", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                      check=True, capture_output=True, text=True).stdout
for line in text.splitlines():
    parts = line.split()
    hi, lo = parts[0].split(",")
    ossl[int(hi, 16) << 8 | int(lo, 16)] = (parts[2], parts[4])
rows = []
for code, name in sorted(_tls_cipher_suites.items()):
    if code > 0xFFFF or "SCSV" in name:
        continue
    std, oname = ossl.get(code, (name, ""))
    if std != name:
        print(f"note: 0x{code:04x}: scapy says {name}, openssl says {std}; using openssl's", file=sys.stderr)
    rows.append((f"0x{code:04X}", std, oname))
with out.open("w", newline="") as fh:
    fh.write("# TLS cipher suites: IANA registry codes and names (via scapy's table), OpenSSL names where\n"
             "# the local OpenSSL knows them. Regenerate with scripts/gen-tls-suites.py.\n")
    w = csv.writer(fh)
    w.writerow(["code", "iana_name", "openssl_name"])
    w.writerows(rows)
print(f"{len(rows)} suites -> {out}")
