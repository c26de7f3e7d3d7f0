"""`pmu features build|signal`: the point-in-time feature marts.

pmu features build [--start D1 --end D2] [--odds-cutoff-minutes N]
    dbt run of marts.feat_runner_pre_race, marts.fct_runner_result, marts.perf_by_condition
    and what they need; with dates, only race days D1..D2 (inclusive) are rebuilt.
pmu features signal [--db-url URL] [--markdown]
    win rate by decile and within-race AUC of every feature (ml/feature_signal.py, run by
    bench/feature_signal.py on the real history).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

SELECTION = ("+feat_runner_pre_race", "+fct_runner_result", "perf_by_condition")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _minutes(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number of minutes: {text!r}")
    return int(text)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "features", help="build the point-in-time feature marts, or report their signal"
    )
    commands = parser.add_subparsers(dest="features_command", required=True)

    build = commands.add_parser("build", help="dbt run of the feature marts (and the core below them)")
    build.add_argument("--start", type=_day, help="first race day rebuilt, YYYY-MM-DD")
    build.add_argument("--end", type=_day, help="last race day rebuilt (inclusive), YYYY-MM-DD")
    build.add_argument(
        "--odds-cutoff-minutes",
        type=_minutes,
        default=None,
        help="odds only from snapshots served this long before the start (default 5)",
    )
    build.set_defaults(func=_build)

    signal = commands.add_parser("signal", help="win rate by feature decile on the real history")
    signal.add_argument("--db-url", help="an existing warehouse (default: land ../shared/pmu/history)")
    signal.add_argument("--markdown", action="store_true", help="print the table too")
    signal.set_defaults(func=_signal)


def _build(args) -> int:
    from pipeline.build import build, window_vars
    from pmu_core import db

    try:
        variables = window_vars(args.start, args.end, args.odds_cutoff_minutes)
    except ValueError as error:
        print(f"pmu features build: {error}", file=sys.stderr)
        return 2
    try:
        build(db.ensure_database(), select=SELECTION, command="run", variables=variables, stream=True)
    except RuntimeError as error:
        print(f"pmu features build: {error}", file=sys.stderr)
        return 1
    return 0


def _signal(args) -> int:
    import subprocess

    from pmu_core.settings import PROJECT_ROOT

    # The report is the benchmark's: it lands the real history into its own database unless given one.
    argv = (["--db-url", args.db_url] if args.db_url else []) + (["--markdown"] if args.markdown else [])
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "feature_signal.py"), *argv]
    ).returncode
