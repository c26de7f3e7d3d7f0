"""Land days of bodies into the raw tables: from the API (`land`), or from recorded days replayed
over real HTTP on 127.0.0.1 in the order a live system saw them (`land_replayed`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from extract.client import ClientConfig
from extract.ingest import BackfillReport, DayReport, ingest_day
from pmu_core.facts import parse_day_code
from pmu_core.replay_server import ReplayServerThread


def recorded_days(root: Path) -> list[date]:
    """Days with a programme file in a replay folder (DDMMYYYY.json), sorted."""
    days = []
    for path in Path(root).glob("*.json"):
        try:
            days.append(parse_day_code(path.stem))
        except ValueError:
            continue  # _captured_at.json and the like
    return sorted(days)


@dataclass(frozen=True)
class ReplayPass:
    """One recording replayed for a day: its folder, the endpoints to land from it (None: all, in
    the strict order) and the last day it covers (None: every day)."""

    root: Path
    only: tuple[str, ...] | None = None
    until: date | None = None

    def covers(self, day: date) -> bool:
        return self.until is None or day <= self.until


# Replayed days need no politeness: no rate limit, and failures retried quickly.
REPLAY_CLIENT = ClientConfig(base_url="http://127.0.0.1", requests_per_second=None, max_workers=4)


def land_replayed(
    passes: Sequence[ReplayPass],
    days: Sequence[date],
    db_url: str,
    *,
    client: ClientConfig = REPLAY_CLIENT,
    on_day: Callable[[DayReport], None] | None = None,
) -> BackfillReport:
    """For each day in date order, land it from each pass in turn (e.g. the morning snapshot, then
    the final one), each pass served by its own replay server; `client` sets the workers and
    retries (its base URL is the server's)."""
    if not days:
        raise ValueError("no day to land")
    days = sorted(days)
    total = BackfillReport(start=days[0], end=days[-1])
    servers = [ReplayServerThread(Path(p.root)).__enter__() for p in passes]
    try:
        configs = [replace(client, base_url=server.base_url) for server in servers]
        for day in days:
            for spec, config in zip(passes, configs, strict=True):
                if not spec.covers(day):
                    continue
                report = ingest_day(day, config=config, db_url=db_url, only=spec.only)
                total.add(report)
                if on_day:
                    on_day(report)
            total.days += 1
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    return total
