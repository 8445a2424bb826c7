"""Shared test helpers: one place for what several test modules need.

ports      free loopback ports; waiting until a daemon listens (TCP) or answers (UDP)
processes  the registry of started daemons (process groups, output kept, always stopped)
daemons    the Debian daemons the tests run on 127.0.0.1, configured and started
netns      throw-away network namespaces on reserved subnets (NetNS, NetNSPair)
gateway    daemons inside a NetNS, configured like a small home gateway (tests and bench)
pki        certificates from probe's own lab PKI (a test CA, good and bad server certificates)
cli        the probe command in-process (probe.cli.main) or as a subprocess
cli_batch  many probe command lines in one process of their own (e.g. under unshare --net)
probe_run  `probe run` as a subprocess with wall time and peak memory measured
checks     one check run against one service exactly as the engine runs it
peers      scripted misbehaving peers for the protocol readers
wire       small protocol clients that prove a lab daemon really answers
reports    the hostile evidence document, headless Chromium, a PNG reader
sites      web UI content the update and model checks look at
fixtures   the pytest fixtures over all of these (registered by tests/conftest.py)
"""
