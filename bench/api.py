"""The predictions API under load: 20 concurrent clients on localhost for 30 s against
/predict/race/{id}, /predict/today and /signals of `pmu serve` (its own process, uvicorn), beside the
same-run latency of the endpoint's bare SQL through psycopg with as many clients (the floor).

Two floors, each with as many clients: `bare_sql`, the read of the day's (or the race's) latest
publications that each request made before the API cached published days (what a miss still reads,
serving/queries.py), and `key_sql`, the one lookup a cached answer needs (the model and the day's
publication key, serving/cache.py). A third floor, `http_floor`, is the same stack (FastAPI under
uvicorn, an async endpoint, no access log) answering a constant body: what HTTP and the framework
cost on this machine before any work. Beside the 20 clients, one client alone (`solo`) gives the
service time without queueing, and the CPU seconds of the load generator (this process) and of the
server are read around each run: on a shared 2-core machine they say where the time goes.

The warehouse is synthetic days through the real pipeline (synth -> replay -> extract -> dbt), a
model trained on all but the last day and the last day published as the 08:00 run would: kept in
database `bench_api` between runs (`--rebuild` to start again). Clients are threads with keep-alive
connections (http.client: `requests` cost the generator more CPU than a cached answer costs the
server); each request's latency is measured by the client. Targets (issue 14): zero errors, P95
<= 20 ms per race and <= 150 ms for the day.

    python bench/api.py [--clients 20] [--seconds 30] [--sql-seconds 10] [--solo-seconds 5]
                        [--rebuild] [--prepare]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import multiprocessing
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
from serving.queries import _LATEST_PER_RACE_SQL, _RESOLVE_MODEL_SQL

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


def http_call(port: int, path: str):
    def call(state: dict) -> bool:
        if "conn" not in state:
            state["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            state["close"] = state["conn"].close
        try:
            state["conn"].request("GET", path)
            answer = state["conn"].getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException):
            state.pop("conn").close()  # the next call opens a new connection
            raise
        return answer.status == 200 and len(body) > 0

    return call


def sql_call(db_url: str, statement: str, params: dict):
    def call(state: dict) -> bool:
        if "conn" not in state:
            state["conn"] = psycopg.connect(db_url, autocommit=True)
            state["close"] = state["conn"].close
        rows = state["conn"].execute(statement, params).fetchall()
        return len(rows) > 0

    return call


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_load(clients: int, seconds: float, call, server_pid: int) -> dict:
    """`load`, with the CPU per request of this process (the generator) and of the server."""
    client0, server0 = time.process_time(), process_cpu_s(server_pid)
    out = load(clients, seconds, call)
    requests_done = max(out["requests"], 1)
    out["client_cpu_us_per_request"] = round((time.process_time() - client0) / requests_done * 1e6)
    out["server_cpu_us_per_request"] = round((process_cpu_s(server_pid) - server0) / requests_done * 1e6)
    return out


def constant_server(port: int) -> None:
    """The HTTP floor: FastAPI under uvicorn as `pmu serve` runs it, answering a constant body."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()

    @app.get("/constant")
    async def constant():
        return Response(content=b'{"constant":true}', media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def http_floor(clients: int, seconds: float, port: int) -> dict:
    server = multiprocessing.Process(target=constant_server, args=(port,), daemon=True)
    server.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/constant", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the constant server did not start") from None
                time.sleep(0.2)
        return measured_load(clients, seconds, http_call(port, "/constant"), server.pid)
    finally:
        server.terminate()
        server.join(10)


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
    parser.add_argument("--solo-seconds", type=float, default=5.0, help="one client alone, per endpoint")
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

    endpoints = {
        "race": (f"/predict/race/{race_id}", {"race_id": race_id}),
        "today": ("/predict/today", {"race_id": None}),
        "signals": (f"/signals?date={DAY.isoformat()}", {"race_id": None}),
    }
    key_params = {"name": None, "version": None, "day": DAY}
    server = serve(url, args.port)
    figures: dict = {
        "day": DAY.isoformat(),
        "races": races,
        "runners": runners,
        "clients": args.clients,
        "seconds_per_endpoint": args.seconds,
        "sql_seconds": args.sql_seconds,
        "solo_seconds": args.solo_seconds,
        "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "endpoints": {},
    }
    try:
        for name, (path, sql_params) in endpoints.items():
            call = http_call(args.port, path)
            solo = measured_load(1, args.solo_seconds, call, server.pid)
            api = measured_load(args.clients, args.seconds, call, server.pid)
            params = {"model_id": model_id, "day": DAY, "as_of": None} | sql_params
            floor = load(args.clients, args.sql_seconds, sql_call(url, _LATEST_PER_RACE_SQL, params))
            key = load(args.clients, args.sql_seconds, sql_call(url, _RESOLVE_MODEL_SQL, key_params))
            figures["endpoints"][name] = {
                "url": path,
                "api": api,
                "solo": solo,
                "bare_sql": floor,
                "key_sql": key,
                "p95_ratio_vs_sql": round(api["p95_ms"] / floor["p95_ms"], 2) if floor["p95_ms"] else None,
                "p95_ratio_vs_key_sql": round(api["p95_ms"] / key["p95_ms"], 2) if key["p95_ms"] else None,
            }
    finally:
        server.terminate()
        server.wait(10)
    figures["http_floor"] = http_floor(args.clients, args.sql_seconds, args.port + 1)
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    by = figures["endpoints"]
    figures["targets"] = {
        "zero_errors": all(e["api"]["errors"] == 0 for e in by.values()),
        "race_p95_le_20ms": by["race"]["api"]["p95_ms"] <= 20,
        "today_p95_le_150ms": by["today"]["api"]["p95_ms"] <= 150,
    }
    line = (
        "bench/api: "
        + "; ".join(
            f"{name} P50/P95/P99 {e['api']['p50_ms']}/{e['api']['p95_ms']}/{e['api']['p99_ms']} ms"
            f" ({e['api']['errors']} errors, {e['api']['rps']} req/s, solo P50 {e['solo']['p50_ms']} ms),"
            f" bare SQL P95 {e['bare_sql']['p95_ms']} ms ({e['p95_ratio_vs_sql']}x),"
            f" key SQL P95 {e['key_sql']['p95_ms']} ms ({e['p95_ratio_vs_key_sql']}x)"
            for name, e in by.items()
        )
        + f"; load {figures['load_average_before'][0]} -> {figures['load_average_after'][0]}"
    )
    write_results("api", figures, line, show_path=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
