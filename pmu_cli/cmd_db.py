"""`pmu db url|env|psql|start|stop`."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from pmu_core import db
from pmu_core.settings import load_settings


def register(subparsers) -> None:
    parser = subparsers.add_parser("db", help="the warehouse database")
    actions = parser.add_subparsers(dest="db_action", required=True)
    url = actions.add_parser(
        "url", help="print the database URL, password masked (starts the embedded server if needed)"
    )
    url.add_argument("--show-password", action="store_true", help="print the password too")
    url.set_defaults(func=_url)
    actions.add_parser("env", help='print shell exports for dbt: eval "$(pmu db env)"').set_defaults(
        func=_env
    )
    actions.add_parser("psql", help="open psql on the warehouse").set_defaults(func=_psql)
    start = actions.add_parser("start", help="start the database and create the schemas")
    start.add_argument("--show-password", action="store_true", help="print the URL's password too")
    start.set_defaults(func=_start)
    actions.add_parser("stop", help="stop the embedded server").set_defaults(func=_stop)
    prints = actions.add_parser(
        "fingerprint", help="ordered hashes of every table (compare two builds bit for bit)"
    )
    prints.add_argument(
        "--schemas", default=None, help="comma-separated (default: all the project's schemas)"
    )
    prints.add_argument("--out", type=Path, default=None, help="write the hashes to this JSON file")
    prints.add_argument("--compare", type=Path, default=None, help="a file from --out: list what differs")
    prints.set_defaults(func=_fingerprint)


def _shown(url: str, show_password: bool) -> str:
    return url if show_password else db.mask_password(url)


def _url(args) -> int:
    print(_shown(db.database_url(), args.show_password))
    return 0


def _env(args) -> int:
    url = db.ensure_database()
    for key, value in db.dbt_env(url).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _psql(args) -> int:
    url = db.ensure_database()
    psql = db.psql_path()
    if not psql.exists():
        print(f"psql not found; connect with: psql '{db.mask_password(url)}' (password in PGPASSWORD)")
        return 1
    # the connection goes through the environment: a URL on the command line shows its password in `ps`
    os.execve(str(psql), [str(psql)], {**os.environ, **db.libpq_env(url)})
    return 0  # not reached


def _start(args) -> int:
    url = db.ensure_database()
    print(f"database ready: {_shown(url, args.show_password)} (schemas: {', '.join(db.SCHEMAS)})")
    return 0


def _stop(args) -> int:
    settings = load_settings()
    if settings.database_url:
        print("PMU_DATABASE_URL is set: that server is not ours to stop")
        return 0
    stale = db.postmaster_state(settings.pgdata) == "stale"
    try:
        stopped = db.stop_embedded(settings)
    except RuntimeError as exc:  # StalePostmasterError included: it says what to do
        print(f"could not stop the embedded server: {exc}")
        return 1
    if stale:
        print(f"not running (removed the stale {settings.pgdata}/postmaster.pid a crash left)")
    else:
        print("stopped" if stopped else "not running")
    return 0


def _fingerprint(args) -> int:
    from pmu_core.fingerprint import DEFAULT_SCHEMAS, differences, fingerprint

    schemas = tuple(s.strip() for s in args.schemas.split(",")) if args.schemas else DEFAULT_SCHEMAS
    prints = fingerprint(db.ensure_database(), schemas)
    if args.out:
        args.out.write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        lines = differences(before, prints)
        print("\n".join(lines) if lines else f"{len(prints)} tables identical to {args.compare}")
        return 1 if lines else 0
    if not args.out:
        print(json.dumps(prints, indent=1, sort_keys=True))
    return 0
