"""Dagster orchestration of the warehouse: `dagster dev -m orchestration` (or `pmu ui`).

Importing the package or any of its modules builds nothing: `orchestration.defs` is built on first
access (PEP 562), once per process, by `orchestration.definitions.build_definitions()` (which reads
the dbt manifest). The pure parts (`race_clock`, `instance`) do not even import Dagster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dagster as dg

    defs: dg.Definitions

__all__ = ["defs"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from orchestration.definitions import build_definitions

        built = build_definitions()
        globals()["defs"] = built  # later reads are plain attribute reads
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # listed, so that Dagster's module loader (inspect.getmembers) finds `defs`
    return sorted({*globals(), "defs"})
