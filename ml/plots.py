"""PNG plots saved with each evaluation (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ml import metrics  # noqa: E402
from pmu_core.facts import DEFAULT_MIN_EDGE, WIN_POOL_TAKEOUT  # noqa: E402


def _title(ax, what: str, subtitle: str | None) -> dict:
    """Set the plot's title; returns PNG metadata carrying it (readable without looking)."""
    title = what if not subtitle else f"{what}\n{subtitle}"
    ax.set_title(title, fontsize=10)
    return {"Title": title.replace("\n", " | ")}


def calibration_curve(preds: pd.DataFrame, path: Path, n_bins: int = 10, subtitle: str | None = None) -> Path:
    """Observed win rate against the mean prediction per quantile bin, with ±1.96 binomial
    standard errors and each model bin's runner count."""
    fig, ax = plt.subplots(figsize=(6, 5.5))
    won = preds["won"].to_numpy(dtype=float)
    top = 0.0
    for col, label in (("p_model", "model"), ("p_market", "market"), ("p_combined", "combined")):
        p = preds[col].to_numpy(dtype=float)
        ok = np.isfinite(p)
        if not ok.any():
            continue
        table = metrics.calibration_table(p[ok], won[ok], n_bins)
        xs = np.array([row["mean_p"] for row in table])
        rates = np.array([row["win_rate"] for row in table])
        counts = np.array([row["runners"] for row in table])
        errors = 1.96 * metrics.binomial_se(rates, counts)
        ax.errorbar(xs, rates, yerr=errors, marker="o", capsize=3, label=label)
        if col == "p_model":
            for x, y, n in zip(xs, rates, counts, strict=True):
                ax.annotate(f"n={n}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
        top = max(top, xs.max(), (rates + errors).max())
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set_xlabel("predicted win probability (bin mean)")
    ax.set_ylabel("observed win rate (±1.96 s.e.)")
    meta = _title(ax, "Calibration on held-out races (runners per model bin)", subtitle)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=meta)
    plt.close(fig)
    return path


def feature_importance(
    importance: dict[str, float], path: Path, top: int = 25, subtitle: str | None = None
) -> Path:
    items = sorted(importance.items(), key=lambda kv: -kv[1])[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(items) + 1.8))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_xlabel("importance (LightGBM gain, or |β| on z-scores)")
    meta = _title(ax, "Feature importance (last walk-forward model)", subtitle)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=meta)
    plt.close(fig)
    return path


def cumulative_roi(
    preds: pd.DataFrame, path: Path, min_edge: float = DEFAULT_MIN_EDGE, subtitle: str | None = None
) -> Path:
    """Cumulative flat-stake ROI of the value bets by race date, with a 90% bootstrap band, and
    the takeout line: what a bettor loses on average by betting at random into the pool."""
    df = preds.loc[np.isfinite(preds["p_market"].to_numpy(dtype=float))]
    odds_now = metrics.bet_odds(
        df.get("mkt_odds", pd.Series(np.nan, index=df.index)).to_numpy(dtype=float),
        df["p_market"].to_numpy(dtype=float),
    )
    final = df.get("final_odds", pd.Series(np.nan, index=df.index)).to_numpy(dtype=float)
    bet, profit = metrics.value_bet_profits(
        df["p_combined"].to_numpy(), df["target"].to_numpy(), odds_now, final, min_edge=min_edge
    )
    dates = pd.to_datetime(df["race_date"]).to_numpy()
    curve = metrics.cumulative_roi_by_date(dates[bet], profit[bet])
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    if curve["roi"].size:
        ax.fill_between(curve["dates"], curve["low"], curve["high"], alpha=0.25, label="90% bootstrap band")
        ax.plot(curve["dates"], curve["roi"], marker=".", label=f"value bets ({int(curve['bets'][-1])})")
    ax.axhline(0, color="grey", linewidth=1)
    ax.axhline(
        -WIN_POOL_TAKEOUT, color="red", linestyle="--", linewidth=1, label=f"takeout −{WIN_POOL_TAKEOUT:.0%}"
    )
    ax.set_xlabel("race date")
    ax.set_ylabel("cumulative ROI (profit / stakes)")
    meta = _title(ax, f"Flat-stake value bets (edge > {min_edge:.0%})", subtitle)
    ax.legend(loc="best", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata=meta)
    plt.close(fig)
    return path
