"""The predictions API under load: 20 concurrent clients on localhost for 30 s against
/predict/race/{id}, /predict/today and /signals of `pmu serve` (its own process, uvicorn), beside the
same-run latency of the endpoint's bare SQL through psycopg with as many clients (the floor).

The warehouse is synthetic days through the real pipeline (synth -> replay -> extract -> dbt), a
model trained on all but the last day and the last day published as the 08:00 run would: kept in
database `bench_api` between runs (`--rebuild` to start again). Clients are threads with keep-alive
sessions; each request's latency is measured by the client. Targets (issue 14): zero errors, P95
<= 20 ms per race and <= 150 ms for the day.

    python bench/api.py [--clients 20] [--seconds 30] [--sql-seconds 10] [--rebuild] [--prepare]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import requests
from _common import kept_database, write_results

from pmu_core.facts import PARIS
from pmu_core.settings import PROJECT_ROOT
from serving.queries import _LATEST_PER_RACE_SQL

START = dt.date(2025, 9, 1)
DAYS = 35
DAY = START + dt.timedelta(days=DAYS - 1)
DATABASE = "bench_api"


def build_warehouse(url: str, home: Path) -> None:
    from ml.dataset import load_scoring_frame
    from pipeline.build import build, build_feature_marts
    from pipeline.land import ReplayPass, land_replayed
    from pipeline.modeling import Recipe, train
    from pipeline.scoring import score
    from synth import generate

    root = home / "bench_api_synth"
    generate(START, DAY, root, seed=3, meetings_per_day=5)
    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    land_replayed(
        [ReplayPass(root / "morning"), ReplayPass(root, until=DAY - dt.timedelta(days=1))], days, url
    )
    build_feature_marts(url)
    build(url, select=("race",), command="run")  # the race starts the API serves
    train(url, START, DAY - dt.timedelta(days=1), Recipe(n_folds=3), promote=True)
    served = load_scoring_frame(url, DAY)["mkt_served_at"].max()  # a publication follows its inputs
    morning = max(dt.datetime.combine(DAY, dt.time(8, 0), PARIS), served + dt.timedelta(minutes=5))
    score(url, [DAY], trigger="morning", scored_at=morning)


def percentiles(latencies_s: list[float]) -> dict:
    if not latencies_s:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    ms = np.array(latencies_s) * 1000
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)}


def load(clients: int, seconds: float, call) -> dict:
    """`clients` threads calling `call(state)` back to back for `seconds`; latencies and errors."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        state: dict = {}
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                ok = call(state)
            except Exception:
                ok = False
            latencies[k].append(time.perf_counter() - t0)
            errors[k] += 0 if ok else 1
        if "close" in state:
            state["close"]()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for per in latencies for x in per]
    return {"requests": len(flat), "errors": sum(errors), "rps": round(len(flat) / seconds, 1)} | percentiles(
        flat
    )


def http_call(url: str):
    def call(state: dict) -> bool:
        if "session" not in state:
            state["session"] = requests.Session()
            state["close"] = state["session"].close
        answer = state["session"].get(url, timeout=10)
        return answer.status_code == 200 and len(answer.content) > 0

    return call


def sql_call(db_url: str, params: dict):
    def call(state: dict) -> bool:
        if "conn" not in state:
            state["conn"] = psycopg.connect(db_url, autocommit=True)
            state["close"] = state["conn"].close
        rows = state["conn"].execute(_LATEST_PER_RACE_SQL, params).fetchall()
        return len(rows) > 0

    return call


def serve(db_url: str, port: int) -> subprocess.Popen:
    env = os.environ | {"PMU_DATABASE_URL": db_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "pmu_cli.main", "serve", "--port", str(port), "--today", DAY.isoformat()],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except requests.ConnectionError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("pmu serve did not answer /health")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0, help="per endpoint")
    parser.add_argument("--sql-seconds", type=float, default=10.0, help="per bare-SQL baseline")
    parser.add_argument("--port", type=int, default=8765 + 100)
    parser.add_argument("--rebuild", action="store_true", help="build the warehouse again")
    parser.add_argument("--prepare", action="store_true", help="only build the warehouse (if needed)")
    args = parser.parse_args()

    from pmu_core.settings import load_settings

    url, ready = kept_database(DATABASE, rebuild=args.rebuild)
    with psycopg.connect(url) as conn:
        published, has_races = conn.execute(
            "select to_regclass('modeling.publications') is not null, to_regclass('marts.race') is not null"
        ).fetchone()
    os.environ["PMU_DATABASE_URL"] = url
    if not (ready and published):
        t0 = time.perf_counter()
        build_warehouse(url, load_settings().home)
        print(f"warehouse built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    elif not has_races:  # kept from a run before the API read the race starts
        from pipeline.build import build

        build(url, select=("race",), command="run")
    if args.prepare:
        return 0
    with psycopg.connect(url) as conn:
        model_id, races, runners = conn.execute(
            "select model_id, races, runners from modeling.publications where race_date = %s"
            " order by published_at desc limit 1",
            (DAY,),
        ).fetchone()
        race_ids = [
            r
            for (r,) in conn.execute(
                "select distinct race_id from modeling.published_predictions as pp join modeling.publications"
                " using (publication_id) where race_date = %s order by 1",
                (DAY,),
            ).fetchall()
        ]
    race_id = race_ids[len(race_ids) // 2]

    base = f"http://127.0.0.1:{args.port}"
    endpoints = {
        "race": (f"{base}/predict/race/{race_id}", {"race_id": race_id}),
        "today": (f"{base}/predict/today", {"race_id": None}),
        "signals": (f"{base}/signals?date={DAY.isoformat()}", {"race_id": None}),
    }
    server = serve(url, args.port)
    figures: dict = {
        "day": DAY.isoformat(),
        "races": races,
        "runners": runners,
        "clients": args.clients,
        "seconds_per_endpoint": args.seconds,
        "sql_seconds": args.sql_seconds,
        "cores": os.cpu_count(),
        "load_average_1m_before": round(os.getloadavg()[0], 2),
        "endpoints": {},
    }
    try:
        for name, (endpoint, sql_params) in endpoints.items():
            api = load(args.clients, args.seconds, http_call(endpoint))
            params = {"model_id": model_id, "day": DAY, "as_of": None} | sql_params
            floor = load(args.clients, args.sql_seconds, sql_call(url, params))
            figures["endpoints"][name] = {
                "url": endpoint.replace(base, ""),
                "api": api,
                "bare_sql": floor,
                "p95_ratio_vs_sql": round(api["p95_ms"] / floor["p95_ms"], 2) if floor["p95_ms"] else None,
            }
    finally:
        server.terminate()
        server.wait(10)
    figures["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    by = figures["endpoints"]
    figures["targets"] = {
        "zero_errors": all(e["api"]["errors"] == 0 for e in by.values()),
        "race_p95_le_20ms": by["race"]["api"]["p95_ms"] <= 20,
        "today_p95_le_150ms": by["today"]["api"]["p95_ms"] <= 150,
    }
    line = "bench/api: " + "; ".join(
        f"{name} P50/P95/P99 {e['api']['p50_ms']}/{e['api']['p95_ms']}/{e['api']['p99_ms']} ms"
        f" ({e['api']['errors']} errors, {e['api']['rps']} req/s), SQL P95 {e['bare_sql']['p95_ms']} ms"
        f" ({e['bare_sql']['errors']} errors)"
        f" ({e['p95_ratio_vs_sql']}x)"
        for name, e in by.items()
    )
    write_results("api", figures, line, show_path=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
