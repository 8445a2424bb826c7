"""`python -m probe.hostile --bind 127.0.0.1 --base-port 20000`: start every hostile server.

Prints one line per server (port, name, what it does) and runs until Ctrl-C or SIGTERM.
Refuses addresses outside loopback unless --allow-non-loopback is given (the lab passes it
for addresses inside its own namespaces).
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading

from probe.hostile.servers import BY_NAME, SERVERS, start_all


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m probe.hostile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--base-port", type=int, default=0,
                   help="first port; servers take consecutive ports (default 0: any free port each)")
    p.add_argument("--only", action="append", choices=sorted(BY_NAME), help="start only these (repeatable)")
    p.add_argument("--serve", action="append", default=[], metavar="NAME:PORT",
                   help="start server NAME on PORT (repeatable; what a lab variant uses); overrides --only")
    p.add_argument("--allow-non-loopback", action="store_true",
                   help="allow a non-loopback --bind (only inside a network namespace you created)")
    p.add_argument("--list", action="store_true", help="list the servers and exit")
    args = p.parse_args(argv)
    if args.list:
        for cls in SERVERS:
            print(f"{cls.name:<26} {cls.looks_like:<8} {cls.misbehaviour}")
        return 0
    try:
        addr = ipaddress.ip_address(args.bind)
    except ValueError:
        p.error(f"--bind {args.bind}: give an IP address")
    if not addr.is_loopback and not args.allow_non_loopback:
        p.error(f"--bind {args.bind}: not a loopback address (add --allow-non-loopback inside a namespace)")
    if not 0 <= args.base_port <= 65535 - len(SERVERS):
        p.error("--base-port out of range")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if args.serve:
            servers = []
            for item in args.serve:
                name, _, port = item.partition(":")
                if name not in BY_NAME or not port.isdigit() or not 0 < int(port) < 65536:
                    p.error(f"--serve {item}: give NAME:PORT with NAME one of --list")
                servers.append(BY_NAME[name](args.bind, int(port)).start())
        else:
            servers = start_all(args.bind, args.base_port, args.only)
    except OSError as exc:
        print(f"probe.hostile: cannot listen on {args.bind}: {exc}", file=sys.stderr)
        return 1
    for s in servers:
        print(f"{s.port}\t{s.name}\t{s.misbehaviour}", flush=True)
    print("ready", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for s in servers:
            s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
