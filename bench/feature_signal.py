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
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pmu_core import db  # noqa: E402
from pmu_core.settings import shared_pmu_dir  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "feature_signal.json"
DATABASE = "pmu_feature_signal"

_ROWS_SQL = """
select f.*, r.is_winner
from marts.feat_runner_pre_race f
join marts.fct_runner_result r using (race_id, num_pmu)
where r.has_result and not r.is_non_runner and not f.is_declared_non_runner
"""


# ---- maths (pure, tested in tests/test_features_signal.py) ----------------------------------------


def decile_win_rates(values: pd.Series, won: pd.Series, bins: int = 10) -> list[dict]:
    """Win rate per quantile bin of `values` (nulls left out; ties broken by order so that a
    feature with few distinct values still gets equal-sized bins)."""
    mask = values.notna()
    v, w = values[mask].astype(float), won[mask].astype(float)
    if len(v) < bins:
        return []
    bin_of = pd.qcut(v.rank(method="first"), bins, labels=False)
    table = (
        pd.DataFrame({"v": v, "w": w, "bin": bin_of})
        .groupby("bin")
        .agg(rows=("w", "size"), win_rate=("w", "mean"), min_value=("v", "min"), max_value=("v", "max"))
    )
    return [
        {"decile": int(b) + 1, **{k: (float(x) if k != "rows" else int(x)) for k, x in row.items()}}
        for b, row in table.iterrows()
    ]


def within_race_auc(race: pd.Series, values: pd.Series, won: pd.Series) -> float | None:
    """P(winner's value > a loser's value in the same race), ties count half; runners without a
    value are left out; races without a valued winner and loser do not count. Vectorised with
    ranks: below a winner are (rows below it) - (winners below it)."""
    frame = pd.DataFrame(
        {"race": race.to_numpy(), "v": values.astype(float).to_numpy(), "w": won.astype(bool).to_numpy()}
    ).dropna(subset=["v"])
    by_race = frame.groupby("race")
    counts = by_race["w"].agg(["size", "sum"])
    valid = counts.index[(counts["sum"] > 0) & (counts["sum"] < counts["size"])]
    frame = frame[frame["race"].isin(valid)]
    if frame.empty:
        return None
    ranks = frame.groupby("race")["v"]
    below, tied = ranks.rank(method="min") - 1, ranks.rank(method="max") - ranks.rank(method="min")
    winners = frame[frame["w"]]
    winner_ranks = winners.groupby("race")["v"]
    winners_below = winner_ranks.rank(method="min") - 1
    winners_tied = winner_ranks.rank(method="max") - winner_ranks.rank(method="min")
    concordant = ((below[winners.index] - winners_below) + 0.5 * (tied[winners.index] - winners_tied)).sum()
    n_winners = counts.loc[valid, "sum"]
    pairs = (n_winners * (counts.loc[valid, "size"] - n_winners)).sum()
    return float(concordant / pairs)


def feature_report(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """One entry per feature, strongest (|AUC - 0.5|) first."""
    won = frame["is_winner"].astype(bool)
    report = []
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        deciles = decile_win_rates(values, won)
        valued = values.notna()
        base = float(won[valued].mean()) if valued.any() else None
        auc = within_race_auc(frame["race_id"], values, won)
        best_end = None
        if deciles and base:
            best_end = max(deciles[0]["win_rate"], deciles[-1]["win_rate"]) / base
        report.append(
            {
                "feature": column,
                "coverage": float(valued.mean()),
                "base_win_rate": base,
                "within_race_auc": auc,
                "best_decile_lift": best_end,
                "deciles": deciles,
            }
        )
    report.sort(key=lambda r: -abs((r["within_race_auc"] or 0.5) - 0.5))
    return report


def markdown(report: list[dict]) -> str:
    lines = [
        "| feature | coverage | AUC in race | lift | win rate by decile (1 = lowest) |",
        "|---|---|---|---|---|",
    ]
    for r in report:
        rates = " ".join(f"{d['win_rate']:.2f}" for d in r["deciles"])
        auc = f"{r['within_race_auc']:.3f}" if r["within_race_auc"] is not None else "-"
        lift = f"{r['best_decile_lift']:.2f}" if r["best_decile_lift"] else "-"
        lines.append(f"| {r['feature']} | {r['coverage']:.0%} | {auc} | {lift} | {rates} |")
    return "\n".join(lines)


# ---- the warehouse ---------------------------------------------------------------------------------


def history_days(history: Path) -> list[str]:
    days = [p.stem for p in (history / "final").glob("[0-9]" * 8 + ".json")]
    return sorted(days, key=lambda d: (d[4:], d[2:4], d[:2]))


def fresh_database() -> str:
    return db.recreate_database(DATABASE)


def land_history(url: str, history: Path, days: list[str]) -> None:
    from extract.client import ClientConfig
    from extract.ingest import ingest_day
    from pmu_core.replay_server import ReplayServerThread

    with ReplayServerThread(history / "morning") as morning, ReplayServerThread(history / "final") as final:
        for day in days:
            for server in (morning, final):
                config = ClientConfig(base_url=server.base_url, requests_per_second=None)
                ingest_day(date(int(day[4:]), int(day[2:4]), int(day[:2])), config=config, db_url=url)


def build_features(url: str) -> None:
    env = {**os.environ, **db.dbt_env(url), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt = Path(sys.executable).parent / "dbt"
    command = [
        str(dbt),
        "run",
        "--select",
        "+feat_runner_pre_race",
        "+fct_runner_result",
        "--project-dir",
        str(ROOT / "dbt_project"),
        "--profiles-dir",
        str(ROOT / "dbt_project"),
        "--target-path",
        str(ROOT / "dbt_project" / "target" / "feature_signal"),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"dbt failed:\n{result.stdout[-4000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-url", help="an existing warehouse with the feature marts (skips landing)")
    parser.add_argument("--days", type=int, help="only the first N history days")
    parser.add_argument("--markdown", action="store_true", help="print the table too")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    history = shared_pmu_dir() / "history"
    url = args.db_url
    days: list[str] = []
    if url is None:
        if not history.is_dir():
            raise SystemExit(f"real history not found at {history} (set PMU_SHARED_DIR)")
        days = history_days(history)[: args.days]
        url = fresh_database()
        land_history(url, history, days)
        build_features(url)
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(_ROWS_SQL)
        frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    columns = [
        c for c in frame.columns if (c.startswith("f_") or c.startswith("mkt_")) and c != "mkt_served_at"
    ]
    report = feature_report(frame, columns)
    summary = {
        "days": len(days) or int(frame["race_date"].nunique()),
        "races": int(frame["race_id"].nunique()),
        "starters": len(frame),
        "base_win_rate": float(frame["is_winner"].mean()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"summary": summary, "features": report}, indent=1))
    strongest = ", ".join(f"{r['feature']} {r['within_race_auc']:.3f}" for r in report[:5])
    print(
        f"feature_signal: {summary['races']} races, {summary['starters']} starters, "
        f"{len(report)} features; strongest within-race AUC: {strongest} -> {RESULTS.relative_to(ROOT)}"
    )
    if args.markdown:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
