"""`pmu demo`: the whole pipeline from nothing, step by step, with where the time went.

Each later capability adds its step to STEPS; a step takes the shared context dict and returns a
one-line summary of what it did."""

from __future__ import annotations

import time
from collections.abc import Callable

from pmu_core import db
from pmu_core.settings import load_settings


def _step_database(ctx: dict) -> str:
    ctx["database_url"] = db.ensure_database()
    where = "PMU_DATABASE_URL" if load_settings().database_url else f"embedded, {load_settings().pgdata}"
    return f"PostgreSQL ready ({where}), schemas {', '.join(db.SCHEMAS)}"


STEPS: list[tuple[str, Callable[[dict], str]]] = [
    ("database", _step_database),
]


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="run the whole pipeline end to end on replayed data")
    parser.set_defaults(func=run_demo)


def run_demo(args) -> int:
    ctx: dict = {"args": args}
    timings: list[tuple[str, float, str]] = []
    for name, step in STEPS:
        started = time.perf_counter()
        summary = step(ctx)
        timings.append((name, time.perf_counter() - started, summary))
        print(f"[{name}] {summary} ({timings[-1][1]:.1f}s)", flush=True)
    total = sum(seconds for _, seconds, _ in timings)
    print(f"\ndemo done in {total:.1f}s: "
          + ", ".join(f"{name} {seconds:.1f}s" for name, seconds, _ in timings))
    return 0
