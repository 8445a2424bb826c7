"""Built-in check plugins: one module + one metadata YAML per check (docs/plugin-api.md)."""
