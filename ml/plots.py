"""PNG plots saved with each evaluation (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ml import metrics  # noqa: E402
from pmu_core.facts import DEFAULT_MIN_EDGE  # noqa: E402


def calibration_curve(preds: pd.DataFrame, path: Path, n_bins: int = 10) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    won = preds["won"].to_numpy(dtype=float)
    top = 0.0
    for col, label in (("p_model", "model"), ("p_market", "market"), ("p_combined", "combined")):
        p = preds[col].to_numpy(dtype=float)
        ok = np.isfinite(p)
        if not ok.any():
            continue
        table = metrics.calibration_table(p[ok], won[ok], n_bins)
        xs = [row["mean_p"] for row in table]
        ax.plot(xs, [row["win_rate"] for row in table], marker="o", label=label)
        top = max(top, max(xs), max(row["win_rate"] for row in table))
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set_xlabel("predicted win probability (bin mean)")
    ax.set_ylabel("observed win rate")
    ax.set_title("Calibration on held-out races")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def feature_importance(importance: dict[str, float], path: Path, top: int = 25) -> Path:
    items = sorted(importance.items(), key=lambda kv: -kv[1])[:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(items) + 1.5))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_xlabel("importance (LightGBM gain, or |β| on z-scores)")
    ax.set_title("Feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def cumulative_roi(preds: pd.DataFrame, path: Path, min_edge: float = DEFAULT_MIN_EDGE) -> Path:
    df = preds.loc[np.isfinite(preds["p_market"].to_numpy(dtype=float))]
    order_key = df["race_start_at"] if "race_start_at" in df.columns else df["race_date"].astype(str)
    order = np.argsort(order_key.astype(str).to_numpy(), kind="stable")
    odds_now = metrics.bet_odds(
        df.get("mkt_odds", pd.Series(np.nan, index=df.index)).to_numpy(dtype=float),
        df["p_market"].to_numpy(dtype=float),
    )
    final = df.get("final_odds", pd.Series(np.nan, index=df.index)).to_numpy(dtype=float)
    profit = metrics.cumulative_profit(
        df["p_combined"].to_numpy(), df["target"].to_numpy(), odds_now, final, order, min_edge=min_edge
    )
    fig, ax = plt.subplots(figsize=(7, 4))
    if profit.size:
        ax.plot(np.arange(1, profit.size + 1), profit / np.arange(1, profit.size + 1))
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xlabel("value bets placed (in race order)")
    ax.set_ylabel("cumulative ROI (profit / stakes)")
    ax.set_title(f"Flat-stake value bets (edge > {min_edge:.0%})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
