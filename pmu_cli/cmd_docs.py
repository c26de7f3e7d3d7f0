"""`pmu docs`: dbt's documentation site (models, columns, tests, lineage, exposures, metrics)
generated against the warehouse and served on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("docs", help="generate the dbt docs and serve them on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--no-serve", action="store_true", help="only generate target/ (index.html, catalog)")
    parser.set_defaults(func=run_docs)


def run_docs(args) -> int:
    from pmu_core import db
    from pmu_core.dbt import DBT_PROJECT, run_dbt

    url = db.ensure_database()
    done = run_dbt(url, "docs", "generate", check=False)
    if done.returncode != 0:
        print(f"error: dbt docs generate failed:\n{done.stdout[-3000:]}", file=sys.stderr)
        return 1
    target = DBT_PROJECT / "target"
    print(f"dbt docs generated in {target} (index.html, manifest.json, catalog.json)", flush=True)
    if args.no_serve:
        return 0
    print(f"serving on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)
    # become `dbt docs serve` (same process id): SIGTERM / SIGINT stop it, nothing is left behind
    dbt = str(Path(sys.executable).with_name("dbt"))
    command = [dbt, "docs", "serve", "--host", args.host, "--port", str(args.port), "--no-browser"]
    command += ["--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    os.chdir(DBT_PROJECT)
    os.execvpe(dbt, command, os.environ | db.dbt_env(url) | {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    return 0  # not reached
