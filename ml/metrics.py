"""Evaluation figures, all computed per race (the unit of a win market).

Log loss is the mean over races of -Σ t_i log p_i (t = the observed outcome as a distribution);
McFadden's pseudo-R² is 1 - LL/LL_uniform, with the uniform field (1/n per runner) as the null."""

from __future__ import annotations

import numpy as np

from ml.groups import first_in_race, race_sizes, race_sum
from pmu_core.facts import DEFAULT_MIN_EDGE, KELLY_CAP, WIN_POOL_TAKEOUT

EPS = 1e-12


def per_race_nll(p, target, starts) -> np.ndarray:
    """-Σ_i t_i log p_i for each race."""
    p = np.clip(np.asarray(p, dtype=float), EPS, 1.0)
    return -race_sum(np.asarray(target, dtype=float) * np.log(p), starts)


def per_race_null_nll(starts, n_rows: int) -> np.ndarray:
    """The uniform model's loss per race: log(field size)."""
    return np.log(race_sizes(starts, n_rows))


def log_loss(p, target, starts) -> float:
    return float(per_race_nll(p, target, starts).mean())


def pseudo_r2(p, target, starts) -> float:
    return float(1.0 - per_race_nll(p, target, starts).sum() / per_race_null_nll(starts, len(p)).sum())


def brier(p, won) -> float:
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(won, dtype=float)) ** 2))


def top1_hit_rate(p, won, starts) -> float:
    """Share of races whose most probable runner won (a tie for top counts if any tied runner won)."""
    picked = first_in_race(p, starts) & (np.asarray(won) > 0)
    return float((race_sum(picked.astype(float), starts) > 0).mean())


def summary(p, target, won, starts) -> dict:
    return {
        "log_loss": log_loss(p, target, starts),
        "pseudo_r2": pseudo_r2(p, target, starts),
        "brier": brier(p, won),
        "top1_hit_rate": top1_hit_rate(p, won, starts),
    }


def bootstrap_indices(n_races: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_races, size=(n_boot, n_races))


def delta_r2_with_ci(
    p_new, p_base, target, starts, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """ΔR² = R²(p_new) - R²(p_base), with a percentile bootstrap CI resampling races."""
    nll_new = per_race_nll(p_new, target, starts)
    nll_base = per_race_nll(p_base, target, starts)
    null = per_race_null_nll(starts, len(target))
    value = float((nll_base.sum() - nll_new.sum()) / null.sum())
    idx = bootstrap_indices(len(starts), n_boot, seed)
    draws = (nll_base[idx].sum(axis=1) - nll_new[idx].sum(axis=1)) / null[idx].sum(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return {
        "value": value,
        "ci_low": float(low),
        "ci_high": float(high),
        "level": level,
        "n_races": int(len(starts)),
        "n_boot": n_boot,
    }


def calibration_table(p, won, n_bins: int = 10) -> list[dict]:
    """Runners in bins of predicted probability (quantile edges): mean prediction vs win rate, the
    binomial standard error of the mean prediction and `z` = (win rate − mean p) / se."""
    p = np.asarray(p, dtype=float)
    won = np.asarray(won, dtype=float)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:  # one value throughout: one bin
        edges = np.array([edges[0], edges[0]])
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        mask = bins == b
        if mask.any():
            mean_p, n = float(p[mask].mean()), int(mask.sum())
            se = float(np.sqrt(mean_p * (1 - mean_p) / n))
            win_rate = float(won[mask].mean())
            rows.append(
                {
                    "p_low": float(edges[b]),
                    "p_high": float(edges[b + 1]),
                    "runners": n,
                    "mean_p": mean_p,
                    "win_rate": win_rate,
                    "se": se,
                    "z": (win_rate - mean_p) / se if se > 0 else 0.0,
                }
            )
    return rows


def calibrated_within(table: list[dict], z: float = 2.0) -> bool:
    """Every bin's observed win rate within `z` standard errors of its mean prediction."""
    return all(abs(row["z"]) <= z for row in table)


def bet_odds(mkt_odds, mkt_implied_prob, takeout: float = WIN_POOL_TAKEOUT) -> np.ndarray:
    """The decimal odds a bettor sees at scoring time; where the feed has none, the pari-mutuel price
    implied by the normalised market probability after PMU's takeout."""
    odds = np.asarray(mkt_odds, dtype=float)
    implied = (1.0 - takeout) / np.clip(np.asarray(mkt_implied_prob, dtype=float), EPS, None)
    return np.where(np.isfinite(odds) & (odds > 1.0), odds, implied)


def value_bets(
    p,
    target,
    starts,
    odds_at_scoring,
    final_odds,
    *,
    min_edge: float = DEFAULT_MIN_EDGE,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Flat 1-unit win bets on every runner whose edge p·odds - 1 exceeds `min_edge` at scoring time.

    The pool pays the final (closing) odds, which PMU publishes net of its takeout; a dead heat pays
    the winner's share (t_i) of it. ROI = profit / stakes, with a bootstrap CI over races. Closing-line
    value: odds taken at scoring time / final odds - 1 (positive = the bet beat the closing price)."""
    p = np.asarray(p, dtype=float)
    odds_now = np.asarray(odds_at_scoring, dtype=float)
    final = np.asarray(final_odds, dtype=float)
    payout_odds = np.where(np.isfinite(final) & (final > 1.0), final, odds_now)
    bet = (p * odds_now - 1.0) > min_edge
    profit = np.where(bet, np.asarray(target, dtype=float) * payout_odds - 1.0, 0.0)
    race_profit = race_sum(profit, starts)
    race_bets = race_sum(bet.astype(float), starts)
    n_bets = int(bet.sum())
    out = {"min_edge": min_edge, "bets": n_bets, "races_with_bets": int((race_bets > 0).sum())}
    if n_bets == 0:
        return out | {
            "roi": None,
            "roi_ci_low": None,
            "roi_ci_high": None,
            "clv_mean": None,
            "clv_beat_close_share": None,
            "profit": 0.0,
        }
    idx = bootstrap_indices(len(starts), n_boot, seed)
    stakes = race_bets[idx].sum(axis=1)
    draws = np.divide(race_profit[idx].sum(axis=1), stakes, out=np.zeros(n_boot), where=stakes > 0)
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    has_close = bet & np.isfinite(final) & (final > 1.0)
    clv = odds_now[has_close] / final[has_close] - 1.0
    return out | {
        "profit": float(profit.sum()),
        "roi": float(profit.sum() / n_bets),
        "roi_ci_low": float(low),
        "roi_ci_high": float(high),
        "clv_mean": float(clv.mean()) if clv.size else None,
        "clv_beat_close_share": float((clv > 0).mean()) if clv.size else None,
    }


def cumulative_profit(
    p, target, odds_at_scoring, final_odds, order, *, min_edge: float = DEFAULT_MIN_EDGE
) -> np.ndarray:
    """Running profit of the value bets in `order` (e.g. by race start)."""
    bet, profit = value_bet_profits(p, target, odds_at_scoring, final_odds, min_edge=min_edge)
    ordered = profit[order][bet[order]]
    return np.cumsum(ordered)


def value_bet_profits(
    p, target, odds_at_scoring, final_odds, *, min_edge: float = DEFAULT_MIN_EDGE
) -> tuple[np.ndarray, np.ndarray]:
    """(is a value bet, flat-stake profit of each row if bet): p·odds - 1 above `min_edge`, paid at
    the final odds where known (the pool pays those), else at the odds seen when scoring."""
    odds_now = np.asarray(odds_at_scoring, dtype=float)
    final = np.asarray(final_odds, dtype=float)
    payout_odds = np.where(np.isfinite(final) & (final > 1.0), final, odds_now)
    bet = (np.asarray(p, dtype=float) * odds_now - 1.0) > min_edge
    return bet, np.asarray(target, dtype=float) * payout_odds - 1.0


def cumulative_roi_by_date(dates, profits, *, n_boot: int = 200, level: float = 0.9, seed: int = 0) -> dict:
    """Cumulative ROI (profit / stakes, flat stakes) after each date of the value bets `profits`
    placed on `dates`, with a `level` bootstrap band: each bootstrap draw weighs every bet by a
    Poisson(1) count (resampling bets with replacement, streamable by date).
    Returns {"dates", "bets", "roi", "low", "high"} (one entry per distinct date, in order)."""
    dates = np.asarray(dates)
    profits = np.asarray(profits, dtype=float)
    if profits.size == 0:
        empty = np.array([], dtype=float)
        return {"dates": dates[:0], "bets": empty, "roi": empty, "low": empty, "high": empty}
    order = np.argsort(dates, kind="stable")
    dates, profits = dates[order], profits[order]
    days, first = np.unique(dates, return_index=True)
    last = np.r_[first[1:], dates.size] - 1  # index of each day's last bet
    weights = np.random.default_rng(seed).poisson(1.0, size=(n_boot, profits.size)).astype(float)
    boot_profit = np.cumsum(weights * profits, axis=1)[:, last]
    boot_stakes = np.cumsum(weights, axis=1)[:, last]
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_roi = boot_profit / boot_stakes
    tail = (1.0 - level) / 2.0
    stakes = np.arange(1, profits.size + 1, dtype=float)[last]
    return {
        "dates": days,
        "bets": stakes,
        "roi": np.cumsum(profits)[last] / stakes,
        "low": np.nanquantile(boot_roi, tail, axis=0),
        "high": np.nanquantile(boot_roi, 1.0 - tail, axis=0),
    }


def binomial_se(rate, n) -> np.ndarray:
    """Standard error of an observed rate over n trials (√(r(1-r)/n)), for error bars."""
    rate = np.asarray(rate, dtype=float)
    return np.sqrt(np.clip(rate * (1.0 - rate), 0.0, None) / np.maximum(np.asarray(n, dtype=float), 1.0))


def attainable_gain(p_model, p_market, p_truth, target, starts) -> float | None:
    """(LL_market - LL_model) / (LL_market - LL_truth): the share of the market's gap to the true
    probabilities (known on synthetic days) that the model closes. 1 = as good as the truth."""
    ll_market = log_loss(p_market, target, starts)
    ll_truth = log_loss(p_truth, target, starts)
    if not ll_market - ll_truth > 0:
        return None
    return float((ll_market - log_loss(p_model, target, starts)) / (ll_market - ll_truth))


def kelly_fraction(p, odds, cap: float = KELLY_CAP) -> np.ndarray:
    """Kelly stake for a win bet at decimal odds: (p·o - 1)/(o - 1), floored at 0 and capped (full
    Kelly on estimated probabilities overbets)."""
    p = np.asarray(p, dtype=float)
    odds = np.asarray(odds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (p * odds - 1.0) / (odds - 1.0)
    return np.clip(np.nan_to_num(f, nan=0.0), 0.0, cap)


# Published probabilities are judged with loose bounds, so that a check on them does not flap.
CALIBRATION_MIN_RACES = 100  # fewer decided races: too noisy to judge, passes and says so
CALIBRATION_MAX_R2_LOSS = 0.02  # not worse than "every runner alike" by more than this


def calibration_verdict(
    p, won, race_ids, *, min_races: int = CALIBRATION_MIN_RACES, n_bins: int = 10
) -> dict:
    """Calibration of published probabilities against results:
    - log loss no worse than a uniform guess by more than CALIBRATION_MAX_R2_LOSS (pseudo-R²), and
    - in every decile of p, |mean p - win rate| within 0.02 + 4 binomial standard errors.
    Races without a winner are left out. Too few races: passes, with the reason."""
    import pandas as pd

    df = pd.DataFrame(
        {
            "p": np.asarray(p, dtype=float),
            "won": np.asarray(won, dtype=float),
            "race_id": np.asarray(race_ids),
        }
    )
    decided = df.groupby("race_id")["won"].transform("sum") > 0
    df = df.loc[decided]
    races = int(df["race_id"].nunique())
    if races < min_races:
        return {
            "passed": True,
            "races": races,
            "reason": f"too little data: {races} decided races in the window (< {min_races}), not judged",
        }
    runners = df.groupby("race_id")["p"].size()
    # a k-way dead heat counts the mean of -ln p over its winners (as per_race_nll's t_i = 1/k)
    winners = df.loc[df["won"] > 0].groupby("race_id")["p"]
    nll = winners.agg(lambda s: -np.mean(np.log(np.clip(s, EPS, None))))
    per_race = pd.DataFrame({"nll": nll, "runners": runners})
    log_loss_ = float(per_race["nll"].mean())
    uniform = float(np.log(per_race["runners"]).mean())
    pseudo_r2_ = 1.0 - per_race["nll"].sum() / np.log(per_race["runners"]).sum()
    table = calibration_table(df["p"].to_numpy(), df["won"].to_numpy(), n_bins)
    worst = 0.0
    for row in table:
        se = np.sqrt(max(row["mean_p"] * (1 - row["mean_p"]), 1e-9) / row["runners"])
        row["gap"] = row["win_rate"] - row["mean_p"]
        row["allowed"] = 0.02 + 4 * se
        worst = max(worst, abs(row["gap"]) / row["allowed"])
    bins_ok = worst <= 1.0
    r2_ok = pseudo_r2_ >= -CALIBRATION_MAX_R2_LOSS
    reasons = []
    if not r2_ok:
        reasons.append(f"pseudo-R² {pseudo_r2_:.4f} below -{CALIBRATION_MAX_R2_LOSS}: worse than uniform")
    if not bins_ok:
        reasons.append(f"a decile misses its win rate by {worst:.2f}x the allowed gap")
    return {
        "passed": bool(bins_ok and r2_ok),
        "races": races,
        "log_loss": log_loss_,
        "uniform_log_loss": uniform,
        "pseudo_r2": float(pseudo_r2_),
        "worst_gap_ratio": float(worst),
        "table": table,
        "reason": "; ".join(reasons) or "within bounds",
    }
