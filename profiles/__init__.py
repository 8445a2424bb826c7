"""Built-in device profiles (data files; see docs/profiles.md)."""
