"""Storage behind small Protocols: SQLite by default; other backends implement the same contract."""
