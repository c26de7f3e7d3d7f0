"""`pmu synth --start D1 --end D2 --out DIR [--seed N] [--meetings-per-day M]`: synthetic PMU days
with a known truth, in the replay layout (final at DIR, morning at DIR/morning, truth at DIR/truth)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic PMU days with known win probabilities (replay layout)",
        description="Simulate a persistent world of horses and write days START..END (inclusive) as "
        "the API's bodies: final snapshot at OUT, morning snapshot at OUT/morning, true win "
        "probabilities at OUT/truth/DDMMYYYY.csv. Same seed, same bytes.",
    )
    parser.add_argument("--start", type=_day, required=True, help="first day written, YYYY-MM-DD")
    end = parser.add_mutually_exclusive_group(required=True)
    end.add_argument("--end", type=_day, help="last day written (inclusive), YYYY-MM-DD")
    end.add_argument("--days", type=int, help="number of days written from START")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replay layout)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the world (default 0)")
    parser.add_argument(
        "--meetings-per-day",
        type=float,
        default=None,
        help="average meetings a day, France and abroad (default 7: about 50 races)",
    )
    parser.add_argument(
        "--burn-in-days",
        type=int,
        default=None,
        help="days simulated before START so horses have a past (default 120)",
    )
    parser.add_argument("--progress", action="store_true", help="print a line per day written")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    from synth import generate  # numpy and the world load only for this command

    end = args.end if args.end is not None else args.start + timedelta(days=args.days - 1)
    if args.days is not None and args.days < 1:
        print("pmu synth: --days must be at least 1", file=sys.stderr)
        return 2
    try:
        summary = generate(
            args.start,
            end,
            args.out,
            seed=args.seed,
            meetings_per_day=args.meetings_per_day,
            burn_in_days=args.burn_in_days,
            progress=args.progress,
        )
    except ValueError as error:
        print(f"pmu synth: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0
