"""Hostile and broken servers for testing probe's robustness (see docs/hostile.md)."""

from probe.hostile.servers import BY_NAME, SERVERS, HostileServer, start_all

__all__ = ["BY_NAME", "SERVERS", "HostileServer", "start_all"]
