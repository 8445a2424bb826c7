"""The device lab: emulated IoT devices and home gateways made of real Debian daemons.

Each device is a Linux network namespace with a veth link to the host, its own accounts (via
`/etc/netns/<ns>/`) and a set of daemons rendered from data (`variants/*.yaml` and
`templates/`). Ground truth for what a correct scan must report lives next to each variant
(`variants/<name>.truth.yaml`). See docs/lab.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LabDevice", "up", "down", "status", "reset_login_state"]


def __getattr__(name: str) -> Any:
    """The manager's names, imported on first use (PEP 562): `probe --help` reads the variant list
    (probe.lab.variants) for the lab command's help without loading the manager, its PKI and
    cryptography."""
    if name in __all__:
        from probe.lab import manager

        return getattr(manager, name)
    raise AttributeError(f"module 'probe.lab' has no attribute {name!r}")
