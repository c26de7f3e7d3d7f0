"""`pmu ingest --date D [--only participants]` and `pmu backfill --start D1 --end D2`: land PMU
bodies into the raw tables (extract/). Exit status 1 when some URL failed, 130 on Ctrl-C."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

import psycopg2

from extract.client import ClientConfig
from extract.endpoints import parse_only
from extract.ingest import BackfillInterrupted, backfill, ingest_day
from pmu_core.facts import ENDPOINT_NAMES

MAX_FAILURES_SHOWN = 20


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


def _rps(text: str) -> float | None:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("--rps must be >= 0 (0 = unlimited)")
    return value or None


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    defaults = ClientConfig(base_url="")
    parser.add_argument("--client", type=int, default=defaults.client, help="API client number (1, 7, 61)")
    parser.add_argument(
        "--rps",
        type=_rps,
        default=defaults.requests_per_second,
        help=f"requests per second over all threads, 0 = unlimited (default {defaults.requests_per_second})",
    )
    parser.add_argument("--workers", type=int, default=defaults.max_workers, help="concurrent requests")
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=defaults.max_attempts,
        help="tries per URL (and fetch rounds for a rejected body)",
    )
    parser.add_argument("--read-timeout", type=float, default=defaults.read_timeout, help="seconds")
    parser.add_argument("--base-url", default=None, help="API base URL (default: PMU_API_BASE_URL)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def register(subparsers) -> None:
    ingest = subparsers.add_parser("ingest", help="fetch one day's bodies into the raw tables")
    ingest.add_argument("--date", type=_day, required=True, help="race day YYYY-MM-DD")
    ingest.add_argument(
        "--only",
        action="append",
        default=None,
        help=f"endpoints to fetch, comma-separated or repeated: {','.join(ENDPOINT_NAMES)} "
        "(e.g. --only participants for a pre-race odds snapshot)",
    )
    _add_client_options(ingest)
    ingest.set_defaults(func=_run_ingest)

    back = subparsers.add_parser("backfill", help="ingest many days; a rerun skips days already final")
    back.add_argument("--start", type=_day, required=True, help="first day YYYY-MM-DD")
    back.add_argument("--end", type=_day, required=True, help="last day YYYY-MM-DD (inclusive)")
    back.add_argument(
        "--refetch-final",
        action="store_true",
        help="fetch days already final too (e.g. another recording of the same days)",
    )
    _add_client_options(back)
    back.set_defaults(func=_run_backfill)


def _config(args) -> ClientConfig:
    overrides = {
        "client": args.client,
        "requests_per_second": args.rps,
        "max_workers": args.workers,
        "max_attempts": args.max_attempts,
        "read_timeout": args.read_timeout,
    }
    if args.base_url:
        overrides["base_url"] = args.base_url
    return ClientConfig.from_env(**overrides)


def format_summary(data: dict) -> str:
    """Human summary of a DayReport/BackfillReport dict."""
    if "start" in data:
        head = (
            f"days {data['days']} ({data['start']} .. {data['end']}): {data['days_skipped']} skipped as "
            f"already final, {data['days_final']} final now"
        )
    else:
        if data["endpoints"] != list(ENDPOINT_NAMES):
            state = f"only {', '.join(data['endpoints'])}"
        else:
            state = "final" if data["is_final"] else "not final yet (a later run will fetch it again)"
        head = f"day {data['day']}: {state}"
    lines = [
        head,
        f"races {data['races']}, requests {data['requests']}",
        f"bodies new {data['bodies_new']} ({data['bytes_landed'] / 1e6:.1f} MB), "
        f"unchanged {data['bodies_unchanged']}, not published {data['not_published']}, "
        f"not announced {data.get('not_announced', 0)}, "
        f"rejected {data['rejected']}, failed {len(data['failed'])}",
    ]
    for failure in data["failed"][:MAX_FAILURES_SHOWN]:
        lines.append(f"  failed {failure['url']}: {failure['reason']}")
    if len(data["failed"]) > MAX_FAILURES_SHOWN:
        lines.append(f"  ... and {len(data['failed']) - MAX_FAILURES_SHOWN} more (raw.fetch_log)")
    lines.extend(f"warning: {warning}" for warning in data.get("warnings", []))
    return "\n".join(lines)


def _print(data: dict, as_json: bool) -> None:
    print(json.dumps(data, indent=2) if as_json else format_summary(data), flush=True)


def _database_error(command: str, exc: psycopg2.Error) -> int:
    print(
        f"pmu {command}: database error: {str(exc).strip()} (what was committed before is kept)",
        file=sys.stderr,
    )
    return 1


def _run_ingest(args) -> int:
    try:
        only = parse_only(args.only)
    except ValueError as exc:
        print(f"pmu ingest: {exc}", file=sys.stderr)
        return 2
    try:
        report = ingest_day(args.date, config=_config(args), only=only, progress=not args.no_progress)
    except psycopg2.Error as exc:
        return _database_error("ingest", exc)
    _print(report.as_dict(), args.json)
    return 1 if report.failed else 0


def _run_backfill(args) -> int:
    if args.end < args.start:
        print(f"pmu backfill: --end {args.end} is before --start {args.start}", file=sys.stderr)
        return 2
    try:
        report = backfill(
            args.start,
            args.end,
            config=_config(args),
            progress=not args.no_progress,
            refetch_final=args.refetch_final,
        )
    except BackfillInterrupted as exc:
        _print(exc.report.as_dict(), args.json)
        print("interrupted: what was landed is kept; rerun the same command to resume", file=sys.stderr)
        return 130
    except psycopg2.Error as exc:
        return _database_error("backfill", exc)
    _print(report.as_dict(), args.json)
    return 1 if report.failed else 0
