"""Protocol probes and clients: code that talks to a device, bounded in bytes and time, records
what it sent and received, and returns typed observations, never verdicts."""
