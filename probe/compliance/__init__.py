"""The compliance rules: scheme catalogs, profiles, recognition paths, scope, clause verdicts,
declarations, crypto policy. No network code lives here."""
