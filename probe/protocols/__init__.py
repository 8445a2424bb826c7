"""Protocol probes: code that talks to a device and returns typed observations, never verdicts."""
