"""`pmu serve`: the predictions API and dashboard (FastAPI under uvicorn) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="serve the predictions API and the dashboard (uvicorn)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        help="the day /predict/today and the dashboard show (default: today in Paris; e.g. the demo's day)",
    )
    parser.add_argument(
        "--max-connections", type=int, default=8, help="size of each connection pool (threads, lookups)"
    )
    parser.set_defaults(func=run_serve)


def run_serve(args) -> int:
    import uvicorn

    from pmu_core import db
    from serving.app import create_app

    url = db.ensure_database()
    app = create_app(url, today=args.today, max_connections=args.max_connections)
    print(f"serving on http://{args.host}:{args.port} (docs: /docs, dashboard: /dashboard)", flush=True)
    # no access log: a line per request costs more than a cached answer
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
