"""Which features carry signal: per feature, coverage, win rate by decile and the within-race AUC
(how often a race's winner has a higher value than a loser of the same race). Pure functions on a
frame of starters (`is_winner`, `race_id`, the f_*/mkt_* columns); bench/feature_signal.py and
`pmu features signal` run them on the real history."""

from __future__ import annotations

import pandas as pd

# Starters of finished races with their pre-race features (contract 3, pmu_core/facts.py).
STARTERS_SQL = """
select f.*, r.is_winner
from marts.feat_runner_pre_race f
join marts.fct_runner_result r using (race_id, num_pmu)
where r.has_result and not r.is_non_runner and not f.is_declared_non_runner
"""


def signal_columns(columns) -> list[str]:
    """The features and market columns a report covers."""
    return [c for c in columns if (c.startswith("f_") or c.startswith("mkt_")) and c != "mkt_served_at"]


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
