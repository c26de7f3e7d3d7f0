"""Shared plumbing of pmu-warehouse: settings, the database, the replay server."""
