"""Dagster orchestration of the warehouse: `dagster dev -m orchestration` (or `pmu ui`)."""

from orchestration.definitions import defs

__all__ = ["defs"]
