"""The `pmu` command line."""
