"""`pmu bets add|list|settle|paper`: the bets ledger (modeling.bets), settled on PMU's official
dividends."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from pmu_core.facts import DEFAULT_MIN_EDGE


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the time zone: {text!r} (e.g. 2025-11-05T13:00+01:00)")
    return moment


def register(subparsers) -> None:
    bets = subparsers.add_parser("bets", help="the bets ledger: add, list, settle, paper-trade")
    sub = bets.add_subparsers(dest="bets_command", required=True)
    add = sub.add_parser("add", help="record a bet (before the race's start)")
    add.add_argument("--race", required=True, help="race id YYYY-MM-DD-R{n}-C{n}")
    add.add_argument("--bet", required=True, help="bet type: SIMPLE_GAGNANT, SIMPLE_PLACE, COUPLE_PLACE, …")
    add.add_argument("--combo", required=True, help="horse numbers, e.g. 3-7")
    add.add_argument("--stake", type=float, required=True, help="euros")
    add.add_argument("--odds", type=float, default=None, help="the odds or probable dividend seen")
    add.add_argument("--at", type=_moment, default=None, help="when the bet was placed (default: now)")
    add.set_defaults(func=run_add)
    listing = sub.add_parser("list", help="bets, newest last")
    listing.add_argument("--status", choices=("open", "won", "lost", "refunded"), default=None)
    listing.add_argument("--date", type=_date, default=None, help="race date")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    settle = sub.add_parser("settle", help="settle open bets on the official dividends (marts.bet_report)")
    settle.set_defaults(func=run_settle)
    paper = sub.add_parser("paper", help="record each publication's value bets as paper bets (once each)")
    paper.add_argument("--strategy", default="value", choices=("value",))
    paper.add_argument("--min-edge", type=float, default=DEFAULT_MIN_EDGE)
    paper.add_argument("--kelly", type=float, default=0.25, help="fraction of the Kelly stake")
    paper.add_argument("--bankroll", type=float, default=1000.0)
    paper.add_argument("--date", type=_date, action="append", default=None, help="race date (repeatable)")
    paper.add_argument(
        "--backtest",
        action="store_true",
        help="days scored after the fact: a publication counts as made when its market snapshot was served",
    )
    paper.set_defaults(func=run_paper)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_add(args) -> int:
    from ml.settlement import parse_combination
    from pipeline.bets import BetError, BetRequest, add_bet
    from pmu_core import db

    try:
        request = BetRequest(
            race_id=args.race,
            bet_type=args.bet,
            combination=parse_combination(args.combo),
            stake=args.stake,
            odds_seen=args.odds,
            placed_at=args.at,
        )
        bet_id = add_bet(db.ensure_database(), request)
    except (BetError, ValueError) as exc:
        return _fail(str(exc))
    print(f"bet {bet_id}: {request.bet_type.upper()} {args.combo} on {args.race}, {args.stake:.2f} EUR")
    return 0


def run_list(args) -> int:
    from pipeline.bets import list_bets
    from pmu_core import db

    bets = list_bets(db.ensure_database(), status=args.status, race_date=args.date)
    if args.json:
        print(json.dumps(bets, default=str, indent=2))
        return 0
    if not bets:
        print("no bets")
        return 0
    print(
        f"{'id':>5}  {'race':<18} {'bet':<16} {'combo':<14} {'stake':>8} {'status':<9} {'return':>9}  source"
    )
    for b in bets:
        back = "" if b["return_amount"] is None else f"{b['return_amount']:.2f}"
        print(
            f"{b['id']:>5}  {b['race_id']:<18} {b['bet_type']:<16} {b['combination']:<14} {b['stake']:>8.2f} "
            f"{b['status']:<9} {back:>9}  {b['strategy'] or b['source']}"
        )
    return 0


def run_settle(args) -> int:
    from pipeline.bets import BetError, settle_bets
    from pmu_core import db

    try:
        counts = settle_bets(db.ensure_database())
    except BetError as exc:
        return _fail(str(exc))
    settled = counts["won"] + counts["lost"] + counts["refunded"]
    if not settled and not counts["still_open"]:
        print("no open bet to settle")
        return 1
    print(
        f"settled {settled} bets ({counts['won']} won, {counts['lost']} lost, "
        f"{counts['refunded']} refunded); {counts['still_open']} still open (no dividend yet)"
    )
    return 0


def run_paper(args) -> int:
    from pipeline.bets import BetError, paper_trade
    from pmu_core import db

    try:
        out = paper_trade(
            db.ensure_database(),
            strategy=args.strategy,
            min_edge=args.min_edge,
            kelly=args.kelly,
            bankroll=args.bankroll,
            days=args.date,
            backtest=args.backtest,
        )
    except BetError as exc:
        return _fail(str(exc))
    if not out["bets_recorded"]:
        print(f"{out['strategy']}: no new value bet in the publications (each is recorded once)")
        return 1
    print(f"{out['strategy']}: {out['bets_recorded']} paper bets recorded")
    return 0
