"""A conditional-logit world with known coefficients, for tests and benchmarks of the maths: runners
have features, the true win probability is a softmax of x·β within the race, the winner is drawn
from it, and the market is a noisy, favourite-longshot-biased view of the truth with PMU's takeout."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml.groups import race_starts, softmax_by_race
from pmu_core.facts import race_id


def simulate_races(
    n_days: int,
    races_per_day: int = 30,
    *,
    beta=(0.8, -0.5, 0.3),
    n_noise: int = 2,
    market_noise: float = 0.5,
    market_exponent: float = 0.85,
    field=(6, 16),
    missing_rate: float = 0.0,
    start: dt.date = dt.date(2024, 1, 1),
    seed: int = 0,
) -> pd.DataFrame:
    """One row per runner: race_id, race_date, num_pmu, f_x0.. (signal), f_noise0.. (no signal),
    mkt_implied_prob, mkt_odds, final_odds, p_truth, won. The market sees the true utility with
    Gaussian noise (sd `market_noise`) and flattens it (exponent < 1: long shots overbet)."""
    rng = np.random.default_rng(seed)
    beta = np.asarray(beta, dtype=float)
    rows = []
    for d in range(n_days):
        day = start + dt.timedelta(days=d)
        for r in range(races_per_day):
            n = int(rng.integers(field[0], field[1] + 1))
            rows.append(
                pd.DataFrame(
                    {
                        "race_id": race_id(day, 1 + r // 8, 1 + r % 8),
                        "race_date": day,
                        "num_pmu": np.arange(1, n + 1),
                    }
                )
            )
    df = pd.concat(rows, ignore_index=True).sort_values(["race_id", "num_pmu"]).reset_index(drop=True)
    n_rows = len(df)
    starts = race_starts(df["race_id"].to_numpy())
    X = rng.normal(size=(n_rows, len(beta)))
    utility = X @ beta
    p_truth = softmax_by_race(utility, starts)
    # Winner: inverse-CDF draw per race.
    cum = np.cumsum(p_truth)
    race_base = np.repeat(np.r_[0.0, cum[starts[1:] - 1]], np.diff(np.r_[starts, n_rows]))
    within = cum - race_base
    u = np.repeat(rng.random(len(starts)), np.diff(np.r_[starts, n_rows]))
    first_above = (within >= u) & np.r_[True, (within[:-1] < u[1:]) | np.isin(np.arange(1, n_rows), starts)]
    won = first_above.astype(float)
    market_view = market_exponent * (utility + rng.normal(scale=market_noise, size=n_rows))
    mkt = softmax_by_race(market_view, starts)
    drift = softmax_by_race(market_view + rng.normal(scale=0.15, size=n_rows), starts)
    for j in range(len(beta)):
        df[f"f_x{j}"] = X[:, j]
    for j in range(n_noise):
        df[f"f_noise{j}"] = rng.normal(size=n_rows)
    if missing_rate > 0:
        for col in [c for c in df.columns if c.startswith("f_")]:
            df.loc[rng.random(n_rows) < missing_rate, col] = np.nan
    df["mkt_implied_prob"] = mkt
    df["mkt_odds"] = np.round(0.84 / mkt, 1).clip(1.1)
    df["final_odds"] = np.round(0.84 / drift, 1).clip(1.1)
    df["p_truth"] = p_truth
    df["won"] = won
    return df
