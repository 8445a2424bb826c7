"""The device lab: emulated IoT devices and home gateways made of real Debian daemons.

Each device is a Linux network namespace with a veth link to the host, its own accounts (via
`/etc/netns/<ns>/`) and a set of daemons rendered from data (`variants/*.yaml` and
`templates/`). Ground truth for what a correct scan must report lives next to each variant
(`variants/<name>.truth.yaml`). See docs/lab.md.
"""

from probe.lab.manager import LabDevice, down, reset_login_state, status, up

__all__ = ["LabDevice", "up", "down", "status", "reset_login_state"]
