"""Scale benchmark: synthetic national data and a timed run against a DuckDB baseline."""
