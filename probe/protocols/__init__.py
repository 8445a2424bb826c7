"""Protocol clients used by checks: small, bounded, and each recording what it sent and received."""
