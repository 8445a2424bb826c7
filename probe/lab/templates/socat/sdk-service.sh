#!/bin/bash -p
# probe device lab: the recorder's proprietary "SDK" port, as vendors' mobile apps use: a binary
# hello (length, magic 0xA55A, protocol "NV", version 1.2, session flags) and nothing else. It
# runs nothing: it reads at most one line or waits 0.3 s, then closes (as the app expects a reply at once).
printf '\x00\x00\x00\x18\xa5\x5aNV\x01\x02\x00\x00\x10\x00\x00\x00\x00\x00\x00\x01\x7f\x00\x00\x01'
IFS= read -r -t 0.3 _ || true
exit 0
