"""`pmu ui`: the Dagster UI (`dagster dev -m orchestration`) on 127.0.0.1, with the warehouse's
database and an instance under PMU_HOME/dagster (see orchestration/instance.py).

`pmu ui` becomes `dagster dev` (exec: same process id), so SIGTERM or SIGINT to it stops Dagster
cleanly, also when it was started in the background. Writing the instance imports only
orchestration.instance: the definitions are built by `dagster dev`'s code server, not here."""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from pmu_core import db
from pmu_core.settings import PROJECT_ROOT, live_api_warning, load_settings, parse_instant


def register(subparsers) -> None:
    from orchestration.instance import default_storage  # no Dagster import: the pure part

    parser = subparsers.add_parser("ui", help="start the Dagster UI (dagster dev) on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--storage",
        choices=("sqlite", "postgres"),
        default=default_storage(),
        help="Dagster run/event storage (default: PMU_DAGSTER_STORAGE, else postgres)",
    )
    parser.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve DIR (recorded or synthetic bodies, e.g. PMU_HOME/demo/synth) on 127.0.0.1 and "
        "point the API resource at it instead of the live API",
    )
    parser.add_argument(
        "--now",
        default=None,
        metavar="ISO",
        help="run the clock of the schedule and sensors from this instant (Paris time without an "
        "offset), e.g. 2025-11-30T09:00 for the demo's today",
    )
    parser.set_defaults(func=run_ui)


def ui_environment(url: str, home: Path) -> dict[str, str]:
    """What the Dagster processes need: where the instance lives and which database to use."""
    from orchestration.instance import PG_URL_ENV, sqlalchemy_url

    # this environment's bin first: dbt and dagster need not be on the caller's PATH
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {
        "DAGSTER_HOME": str(home),
        "PMU_DATABASE_URL": url,
        PG_URL_ENV: sqlalchemy_url(url),
        "PATH": path,
        **db.dbt_env(url),
    }


def clock_environment(now_text: str | None, wall: datetime | None = None) -> dict[str, str]:
    """PMU_CLOCK_OFFSET_SECONDS for a clock that reads `now_text` at start-up and then runs."""
    if not now_text:
        return {}
    offset = parse_instant(now_text) - (wall or datetime.now(UTC))
    return {"PMU_CLOCK_OFFSET_SECONDS": f"{offset.total_seconds():.3f}"}


def run_ui(args) -> int:
    from orchestration.instance import dagster_home, write_instance

    try:
        clock = clock_environment(args.now)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.replay is not None and not args.replay.is_dir():
        print(f"error: --replay {args.replay}: no such folder", file=sys.stderr)
        return 2
    settings = load_settings()
    url = db.ensure_database(settings)
    home = dagster_home(settings)
    write_instance(home, args.storage)
    dagster = Path(sys.executable).parent / "dagster"
    command = [
        str(dagster if dagster.exists() else "dagster"),
        "dev",
        "-m",
        "orchestration",
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    extra = dict(clock)
    if args.replay is not None:
        from pmu_cli.cmd_replay import start_replay_process

        # a child that ends with this process, i.e. with the `dagster dev` it becomes
        _, extra["PMU_API_BASE_URL"] = start_replay_process(args.replay.resolve())
        print(f"API resource -> replay server {extra['PMU_API_BASE_URL']} serving {args.replay}", flush=True)
    api = extra.get("PMU_API_BASE_URL") or settings.api_base_url
    warning = live_api_warning(api)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    if clock:
        print(f"clock: starts at {args.now} and runs ({clock['PMU_CLOCK_OFFSET_SECONDS']} s from the wall)")
    print(
        f"Dagster UI on http://{args.host}:{args.port} (instance {home}, {args.storage} storage)", flush=True
    )
    os.chdir(PROJECT_ROOT)
    stoppable_by_signals()
    os.execvpe(command[0], command, {**os.environ, **ui_environment(url, home), **extra})
    return 0  # not reached


def stoppable_by_signals() -> None:
    """Default SIGINT/SIGTERM dispositions for the process about to exec `dagster dev`. A shell
    starts background jobs with SIGINT ignored; an ignored signal stays ignored across exec, and
    `dagster dev` maps SIGTERM to its SIGINT handler, so it would ignore both and never stop."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
