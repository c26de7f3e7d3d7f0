"""Write synthetic days in the replay layout: final snapshot at OUT, morning snapshot at OUT/morning,
true win probabilities at OUT/truth (never inside the API bodies)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import orjson

from synth.bodies import (
    FINAL,
    MORNING,
    capture_times,
    participants_bodies,
    performances_text,
    programme_body,
    quinte_races,
    rapports_body,
)
from synth.world import SynthConfig, World, days_between

TRUTH_HEADER = ("race_id", "numPmu", "p_true")


@dataclass
class Summary:
    out: str
    start: str
    end: str
    seed: int
    days: int = 0
    meetings: int = 0
    races: int = 0
    cancelled: int = 0
    runners: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    seconds_by_phase: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _dump(obj) -> bytes:
    """Compact UTF-8 JSON (the API's keys, types and nesting; whitespace carries no meaning)."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


class _Writer:
    """Writes a day's files (string paths: pathlib costs more than the write on 100k files)."""

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        self._made: set[str] = set()

    def _parent(self, path: str) -> None:
        parent = os.path.dirname(path)
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)
            self._made.add(parent)

    def write(self, path: str, data: bytes) -> None:
        self._parent(path)
        with open(path, "wb") as handle:
            handle.write(data)
        self.summary.files += 1
        self.summary.bytes += len(data)

    def write_day(
        self, stale: list[str], files: list[tuple[str, bytes]], links: list[tuple[str, str]]
    ) -> None:
        """Replace a day: its folders from an earlier run go first, so no stale race survives."""
        for folder in stale:
            if os.path.isdir(folder):
                shutil.rmtree(folder)
                self._made = {p for p in self._made if p != folder and not p.startswith(folder + "/")}
        for path, data in files:
            self.write(path, data)
        for source, path in links:
            self.link(source, path)

    def link(self, source: str, path: str) -> None:
        """Same bytes at a second path (hard link when the file system allows)."""
        self._parent(path)
        try:
            os.link(source, path)
        except FileExistsError:
            os.unlink(path)
            os.link(source, path)
        except OSError:
            shutil.copyfile(source, path)
        self.summary.files += 1


def generate(
    start: date,
    end: date,
    out: Path,
    *,
    seed: int = 0,
    meetings_per_day: float | None = None,
    burn_in_days: int | None = None,
    config: SynthConfig | None = None,
    progress: bool = False,
) -> dict:
    """Simulate the world from `start - burn_in_days` and write days `start`..`end` (inclusive) to
    `out`. Same arguments, same bytes. Returns a summary dict (days, races, files, bytes, seconds)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    config = config or SynthConfig()
    if meetings_per_day is not None:
        if meetings_per_day <= 0:
            raise ValueError("meetings_per_day must be positive")
        config = replace(config, meetings_per_day=float(meetings_per_day))
    if burn_in_days is not None:
        if burn_in_days < 0:
            raise ValueError("burn_in_days must be >= 0")
        config = replace(config, burn_in_days=int(burn_in_days))
    out = Path(out)
    started = time.perf_counter()
    summary = Summary(out=str(out), start=start.isoformat(), end=end.isoformat(), seed=seed)
    phases = {"simulate": 0.0, "bodies": 0.0, "write": 0.0}
    first = start - timedelta(days=config.burn_in_days)
    world = World(config, seed, first)
    body_rng = np.random.default_rng([seed, 1])  # presentation details, apart from the world's draws
    writer = _Writer(summary)
    captured = {MORNING: {}, FINAL: {}}
    # Files are written by a background thread (file system calls release the GIL) while the
    # next day is simulated; one day in flight at most, and its errors surface here.
    pool = ThreadPoolExecutor(max_workers=1)
    pending: Future | None = None
    try:
        for day in days_between(first, end):
            t0 = time.perf_counter()
            races = world.run_day(day)
            phases["simulate"] += time.perf_counter() - t0
            if day >= start:
                stale, files, links = _day_files(world, day, races, str(out), body_rng, captured, phases)
                t0 = time.perf_counter()
                if pending is not None:
                    pending.result()
                phases["write"] += time.perf_counter() - t0
                pending = pool.submit(writer.write_day, stale, files, links)
                summary.days += 1
                summary.meetings += len({r.meeting for r in races})
                summary.races += len(races)
                summary.cancelled += sum(r.cancelled for r in races)
                summary.runners += sum(r.n for r in races)
                if progress:
                    print(f"{day.isoformat()}: {len(races)} races", flush=True)
            t0 = time.perf_counter()
            world.record_day(day, races)
            phases["simulate"] += time.perf_counter() - t0
        if pending is not None:
            t0 = time.perf_counter()
            pending.result()
            phases["write"] += time.perf_counter() - t0
    finally:
        pool.shutdown(wait=True)
    writer.write(str(out / "_captured_at.json"), _dump(dict(sorted(captured[FINAL].items()))))
    writer.write(str(out / "morning" / "_captured_at.json"), _dump(dict(sorted(captured[MORNING].items()))))
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.seconds_by_phase = {k: round(v, 3) for k, v in phases.items()}
    return summary.as_dict()


def _day_files(
    world: World, day: date, races, out: str, rng: np.random.Generator, captured: dict, phases: dict
) -> tuple[list[str], list[tuple[str, bytes]], list[tuple[str, str]]]:
    """The bodies of a day (both snapshots) and its truth table: (stale folders, files, links)."""
    key = day.strftime("%d%m%Y")
    morning_at, evening_at = capture_times(day, rng)
    captured[MORNING][key] = morning_at.isoformat()
    captured[FINAL][key] = evening_at.isoformat()
    quinte = quinte_races(races)
    t0 = time.perf_counter()
    final_root, morning_root = out, f"{out}/morning"
    files: list[tuple[str, bytes]] = []
    links: list[tuple[str, str]] = []
    for snapshot, root, at in ((FINAL, final_root, evening_at), (MORNING, morning_root, morning_at)):
        files.append((f"{root}/{key}.json", _dump(programme_body(day, races, snapshot, at, rng))))
    truth = io.StringIO()
    table = csv.writer(truth, lineterminator="\n")
    table.writerow(TRUTH_HEADER)
    for race in races:
        rel = f"{key}/R{race.meeting}/C{race.num}"
        bodies = participants_bodies(world, race, morning_at, evening_at)
        files.append((f"{final_root}/{rel}/participants.json", _dump(bodies[FINAL])))
        files.append((f"{morning_root}/{rel}/participants.json", _dump(bodies[MORNING])))
        perf = f"{final_root}/{rel}/performances-detaillees/pretty.json"
        files.append((perf, performances_text(world, race).encode("utf-8")))
        links.append((perf, f"{morning_root}/{rel}/performances-detaillees/pretty.json"))
        rapports = rapports_body(race, race.race_id in quinte)
        if rapports is not None:
            files.append((f"{final_root}/{rel}/rapports-definitifs.json", _dump(rapports)))
        if not race.cancelled:
            for i, p in enumerate(race.p_true):
                table.writerow((race.race_id, i + 1, f"{p:.10f}"))
    files.append((f"{out}/truth/{key}.csv", truth.getvalue().encode("utf-8")))
    phases["bodies"] += time.perf_counter() - t0
    return [f"{final_root}/{key}", f"{morning_root}/{key}"], files, links
