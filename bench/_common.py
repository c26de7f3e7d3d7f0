"""What the benchmarks share: the recordings they read, fresh databases, a replay server in its own
process, and where their figures go.

Each bench is run as a script (`python bench/x.py`), which puts bench/ on sys.path: `import _common`
finds this module. No bench is named after a package of the project (bench/ sits first on
sys.path, so bench/ml.py would hide the `ml` package), and no bench imports another.

Figures go to bench/results/<name>.json, or to the folder PMU_BENCH_RESULTS_DIR names (a reduced
run that must not replace the committed figures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from extract.client import ClientConfig
from pmu_core import db
from pmu_core.settings import PROJECT_ROOT, shared_pmu_dir

BENCH_DIR = Path(__file__).resolve().parent


# How the benches land replayed days: no rate limit, otherwise the extractor's defaults (workers,
# retries); the base URL is the replay server's (pipeline.land.land_replayed sets it).
REPLAY_CLIENT = ClientConfig(base_url="http://127.0.0.1", requests_per_second=None)


# ---- recordings -----------------------------------------------------------------------------------


def shared_recordings(folder: str, bench: str) -> Path:
    """`folder` of the real recordings (../shared/pmu or PMU_SHARED_DIR); exits when it is missing."""
    path = shared_pmu_dir() / folder
    if not path.is_dir():
        raise SystemExit(f"bench/{bench}: real PMU recordings not found at {path} (set PMU_SHARED_DIR)")
    return path


# ---- databases ------------------------------------------------------------------------------------


def fresh_database(name: str, server_url: str | None = None) -> str:
    """Database `name`, dropped if present and created with the project's schemas, on the
    warehouse's server (PMU_DATABASE_URL or the embedded one) or on `server_url`; its URL."""
    return db.recreate_database(name, server_url)


@contextmanager
def scratch_database(prefix: str = "bench", server_url: str | None = None) -> Iterator[str]:
    """A fresh database under a random name, dropped on exit; yields its URL."""
    server_url = server_url or db.database_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = fresh_database(name, server_url)
    try:
        yield url
    finally:
        db.drop_database(name, server_url)


def kept_database(name: str, rebuild: bool = False) -> tuple[str, bool]:
    """Database `name`, kept between runs (created fresh when missing or `rebuild`): (its URL,
    whether it already holds the feature marts)."""
    server_url = db.database_url()
    url = db.url_for_database(server_url, name)
    with db.connection(server_url) as conn, conn.cursor() as cur:
        cur.execute("select 1 from pg_database where datname = %s", (name,))
        exists = cur.fetchone() is not None
    if rebuild or not exists:
        return fresh_database(name, server_url), False
    db.ensure_schemas(url)
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('marts.feat_runner_pre_race') is not null")
        return url, cur.fetchone()[0]


# ---- a replay server in its own process -----------------------------------------------------------


@dataclass(frozen=True)
class ReplayProcess:
    process: subprocess.Popen
    base_url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def replay_server_process(root: Path) -> Iterator[ReplayProcess]:
    """`pmu replay-server --root ROOT` as its own process on a free port of 127.0.0.1: its own core
    and GIL, so that the extractor's timings do not include serving, and the server's CPU can be
    read apart (/proc/PID). A thread in this process (pmu_core.replay_server.ReplayServerThread,
    pipeline.land.land_replayed) is enough where only the result of landing matters."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pmu_cli.main", "replay-server", "--root", str(root), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        first_line = process.stdout.readline()  # "replay server on URL serving ROOT"
        if " on " not in first_line:
            raise RuntimeError(f"the replay server did not start: {first_line!r}")
        yield ReplayProcess(process, first_line.split(" on ", 1)[1].split(" serving", 1)[0])
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            # a client of this process may still hold a keep-alive connection open to it
            process.kill()
            process.wait(10)


# ---- results --------------------------------------------------------------------------------------


def results_path(name: str) -> Path:
    """Where the figures of `name` go: bench/results/<name>.json, or under PMU_BENCH_RESULTS_DIR."""
    folder = os.environ.get("PMU_BENCH_RESULTS_DIR")
    return (Path(folder) if folder else BENCH_DIR / "results") / f"{name}.json"


def shown(path: Path) -> Path:
    """A path as printed: relative to the checkout when inside it."""
    path = path.resolve()
    return path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path


def write_results(name: str, figures: dict, line: str, *, indent: int = 2, show_path: bool = False) -> Path:
    """Write `figures` as JSON to results_path(name) and print the bench's one line (followed by
    ` -> PATH` when `show_path`); returns the path."""
    path = results_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=indent, default=str) + "\n")
    print(line + (f" -> {shown(path)}" if show_path else ""))
    return path
