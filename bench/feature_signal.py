"""Which features carry signal on the real history (issue 7, part 7).

Lands the real days of `../shared/pmu/history` as a live system saw them (each day's `morning`
snapshot, then its `final` one, in date order, through the extractor and the replay server) into a
fresh database, builds the feature marts with dbt, and reports for every f_* / mkt_* column of
marts.feat_runner_pre_race, over the starters of finished races:
  - coverage (share of non-null values),
  - the win rate in each decile of the feature (decile 1 = lowest values),
  - lift: win rate of the best decile end over the base win rate of the same rows,
  - within-race AUC: how often the winner's value beats a loser's of the same race (0.5 = no
    signal, below 0.5 = lower values win).
Writes bench/results/feature_signal.json and prints a one-line summary; `--markdown` also prints
the table. `--db-url URL` reads an existing warehouse instead of landing the days.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _common
import pandas as pd

from ml.feature_signal import STARTERS_SQL, feature_report, markdown, signal_columns
from pmu_core import db

DATABASE = "pmu_feature_signal"


# ---- the warehouse ---------------------------------------------------------------------------------


def land_and_build(url: str, history: Path, days: list) -> None:
    """Each day's morning snapshot, then its final one, in date order; then the feature marts."""
    from pipeline.build import build_feature_marts
    from pipeline.land import ReplayPass, land_replayed

    passes = [ReplayPass(history / "morning"), ReplayPass(history / "final")]
    land_replayed(passes, days, url, client=_common.REPLAY_CLIENT)
    try:
        build_feature_marts(url)
    except RuntimeError as error:
        raise SystemExit(str(error)) from error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="an existing warehouse with the feature marts (skips landing)")
    parser.add_argument("--days", type=int, help="only the first N history days")
    parser.add_argument("--markdown", action="store_true", help="print the table too")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    url = args.db_url
    days: list = []
    if url is None:
        from pipeline.land import recorded_days

        history = _common.shared_recordings("history", "feature_signal")
        days = recorded_days(history / "final")[: args.days]
        url = _common.fresh_database(DATABASE)
        land_and_build(url, history, days)
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(STARTERS_SQL)
        frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    report = feature_report(frame, signal_columns(frame.columns))
    summary = {
        "days": len(days) or int(frame["race_date"].nunique()),
        "races": int(frame["race_id"].nunique()),
        "starters": len(frame),
        "base_win_rate": float(frame["is_winner"].mean()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    strongest = ", ".join(f"{r['feature']} {r['within_race_auc']:.3f}" for r in report[:5])
    _common.write_results(
        "feature_signal",
        {"summary": summary, "features": report},
        f"feature_signal: {summary['races']} races, {summary['starters']} starters, "
        f"{len(report)} features; strongest within-race AUC: {strongest}",
        indent=1,
        show_path=True,
    )
    if args.markdown:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
