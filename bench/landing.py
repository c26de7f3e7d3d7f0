"""Landing throughput: the extractor over HTTP versus a plain COPY of the same bodies.

Lands every real day of `../shared/pmu/replay` through `pmu replay-server` (a separate process, no
rate limit, default concurrency) with `extract.ingest.ingest_days` (what `pmu backfill` runs: every
request, 204s included), then, in the same run, COPYs the very bodies that landed straight from
disk into a bare one-column jsonb table. Each is repeated (fresh tables each time) and the median
kept. Also times the same GETs with no database at all (the floor HTTP sets), and records the CPU
each extractor run cost per request in this process (HTTP client + landing) and in the replay
server's. Writes bench/results/landing.json and prints one line.

Target: the extractor reaches at least 50% of plain COPY's MB/s.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import _common
import psycopg2
from psycopg2 import sql

from extract.client import ClientConfig, PmuClient
from extract.ingest import ingest_days
from extract.landing import csv_field, ensure_raw_tables
from pipeline.land import recorded_days
from pmu_core.facts import ENDPOINTS, RAW_SCHEMA

DEFAULT_WORKERS = ClientConfig(base_url="").max_workers
# every table a run writes: the endpoints' and the extractor's own
RAW_TABLES = (*(e.raw_table for e in ENDPOINTS), "rejected_bodies", "fetch_log", "day_runs")


def reset(url: str) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("truncate {}").format(
                sql.SQL(", ").join(sql.Identifier(RAW_SCHEMA, table) for table in RAW_TABLES)
            )
        )
        cur.execute("drop table if exists bench_plain")
        cur.execute("create table bench_plain (body jsonb not null)")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_extractor(
    url: str, base_url: str, days: list, workers: int, server_pid: int
) -> tuple[float, int, int, float, float]:
    """Seconds, bytes landed, requests, and CPU seconds of this process and of the replay server:
    `ingest_days` of every day (what `pmu backfill` runs), no rate limit."""
    config = ClientConfig(base_url=base_url, requests_per_second=None, max_workers=workers)
    server_before, own_before = process_cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    report = ingest_days(days, config=config, db_url=url)
    seconds = time.perf_counter() - started
    own_cpu = time.process_time() - own_before
    server_cpu = process_cpu_seconds(server_pid) - server_before
    if report.failed:
        raise RuntimeError(f"extractor failed: {report.failed[:3]}")
    return seconds, report.bytes_landed, report.requests, own_cpu, server_cpu


def landed_files(url: str, base_url: str, root: Path) -> list[Path]:
    """The files behind the bodies the extractor stored, from its fetch log."""
    prefix = ClientConfig(base_url=base_url).url("")
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select url from raw.fetch_log where outcome = 'new' order by fetch_id")
        return [root / (row[0].removeprefix(prefix) + ".json") for row in cur.fetchall()]


def run_http_only(url: str, base_url: str, workers: int) -> float:
    """Seconds to GET the very URLs the extractor asked for (same client, same concurrency), with
    no database at all: the floor that HTTP puts under the extractor."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select url from raw.fetch_log order by fetch_id")
        prefix = ClientConfig(base_url=base_url).url("")
        paths = [(row[0].removeprefix(prefix), None) for row in cur.fetchall()]
    with PmuClient(ClientConfig(base_url=base_url, requests_per_second=None, max_workers=workers)) as client:
        started = time.perf_counter()
        results = client.fetch_many(paths)
        seconds = time.perf_counter() - started
    if any(r.status == "failed" for r in results):
        raise RuntimeError("HTTP-only pass failed")
    return seconds


def run_plain_copy(url: str, files: list[Path]) -> tuple[float, int]:
    """Seconds and bytes of reading the files and COPYing them into a bare jsonb table."""
    started = time.perf_counter()
    buffer = io.BytesIO()
    size = 0
    for path in files:
        body = path.read_bytes()
        size += len(body)
        buffer.write(csv_field(body) + b"\n")
    buffer.seek(0)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.copy_expert("copy bench_plain (body) from stdin with (format csv)", buffer, size=1 << 20)
    return time.perf_counter() - started, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--workers",
        default=",".join(dict.fromkeys(str(w) for w in (DEFAULT_WORKERS, 1, 4))),
        help="comma-separated concurrencies to measure; the first is the headline",
    )
    args = parser.parse_args()
    concurrencies = [int(w) for w in args.workers.split(",")]
    root = _common.shared_recordings("replay", "landing")
    days = recorded_days(root)
    load_before = os.getloadavg()[0]  # the machine is shared: what else was running
    with _common.scratch_database("bench_landing") as url, _common.replay_server_process(root) as server:
        base_url = server.base_url
        ensure_raw_tables(url)
        extractor = {w: [] for w in concurrencies}
        http_only = {w: [] for w in concurrencies}
        cpu = {w: [] for w in concurrencies}  # (client, server) CPU µs per request
        plain = []
        for _ in range(args.repeats):  # interleaved, so that all see the same machine
            for workers in concurrencies:
                reset(url)
                seconds, size, requests, own_cpu, server_cpu = run_extractor(
                    url, base_url, days, workers, server.pid
                )
                extractor[workers].append(size / 1e6 / seconds)
                cpu[workers].append((own_cpu / requests * 1e6, server_cpu / requests * 1e6))
                http_only[workers].append(size / 1e6 / run_http_only(url, base_url, workers))
            files = landed_files(url, base_url, root)
            copy_seconds, copy_size = run_plain_copy(url, files)
            assert copy_size == size, (copy_size, size)
            plain.append(copy_size / 1e6 / copy_seconds)
    copy_rate = statistics.median(plain)
    per_workers = {
        str(w): {
            "extractor_mb_per_s": round(statistics.median(extractor[w]), 2),
            "ratio": round(statistics.median(extractor[w]) / copy_rate, 3),
            "http_only_mb_per_s": round(statistics.median(http_only[w]), 2),
            "http_only_ratio": round(statistics.median(http_only[w]) / copy_rate, 3),
            "extractor_runs_mb_per_s": [round(v, 2) for v in extractor[w]],
            # median over runs; the server's first run also reads the files into its cache
            "client_cpu_us_per_request": round(statistics.median(c for c, _ in cpu[w])),
            "server_cpu_us_per_request": round(statistics.median(s for _, s in cpu[w])),
        }
        for w in concurrencies
    }
    headline = per_workers[str(concurrencies[0])]
    figures = {
        "days": len(days),
        "bodies": len(files),
        "requests_per_run": requests,
        "mb": round(size / 1e6, 3),
        "repeats": args.repeats,
        "workers": concurrencies[0],
        "extractor_mb_per_s": headline["extractor_mb_per_s"],
        "plain_copy_mb_per_s": round(copy_rate, 2),
        "ratio": headline["ratio"],
        "target_ratio": 0.5,
        "http_only_mb_per_s": headline["http_only_mb_per_s"],
        "http_only_ratio": headline["http_only_ratio"],
        "client_cpu_us_per_request": headline["client_cpu_us_per_request"],
        "server_cpu_us_per_request": headline["server_cpu_us_per_request"],
        "by_workers": per_workers,
        "plain_copy_runs_mb_per_s": [round(v, 2) for v in plain],
        "load_average_1min_before": round(load_before, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    _common.write_results(
        "landing",
        figures,
        f"landing: extractor {figures['extractor_mb_per_s']} MB/s vs plain COPY "
        f"{figures['plain_copy_mb_per_s']} MB/s, ratio {figures['ratio']} (target >= 0.5; HTTP alone "
        f"{figures['http_only_ratio']}) with {concurrencies[0]} workers; "
        + "; ".join(
            f"{w} workers: ratio {v['ratio']}" for w, v in per_workers.items() if w != str(concurrencies[0])
        )
        + f"; CPU per request: client {figures['client_cpu_us_per_request']} µs (HTTP + landing), "
        f"replay server {figures['server_cpu_us_per_request']} µs"
        + f"; over {figures['mb']} MB, {len(files)} bodies, {requests} requests, "
        f"load {figures['load_average_1min_before']} before, {figures['load_average_1min']} after, "
        f"on {figures['cpus']} CPUs",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
