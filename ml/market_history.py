"""Point-in-time past-closing-market features: what the betting market thought of a horse in its
earlier races, and how the horse did against that opinion.

The crowd prices form the ratings have not seen yet (the latest run, the stable's word); its
closing price of a horse's earlier races is a cheap, strong summary of that, and the residual
won − p says whether the horse beat the market's expectation. Every value of a runner comes from
that horse's races on strictly earlier dates (never the same day: the day's closing odds and
results are not known before its races), so a day can be scored in the morning.

A past run counts when its race has a result (a winner) and the horse had a closing price
(final odds > 1). p is 1/odds normalised over the priced runners of that past race."""

from __future__ import annotations

import numpy as np
import pandas as pd

MARKET_HISTORY_FEATURES = (
    "f_past_mkt_last_log_prob",
    "f_past_mkt_last_log_pn",
    "f_past_mkt_last_strength",
    "f_past_mkt_last_residual",
    "f_past_mkt_ewm_log_prob",
    "f_past_mkt_ewm_residual",
    "f_past_mkt_ewm_strength",
    "f_past_mkt_runs",
    "f_past_mkt_days_since",
)
EWM_ALPHA = 0.5  # the latest run weighs as much as all earlier ones together: form moves fast


def past_runs(history: pd.DataFrame) -> pd.DataFrame:
    """history: one row per runner of earlier races (race_id, race_date, horse_key, final_odds,
    is_winner, optionally f_rating_total as it stood before that race). Returns the priced runs of
    races with a winner: horse_key, race_date, race_id, log_prob, log_pn, strength, residual.

    strength is the log-strength the market implies in the ratings' units: under a logit race
    model p = e^s / (e^s + Σ_opponents e^r), so s = logit(p) + log Σ_opponents e^r."""
    # per-race sums over integer codes (np.bincount): a groupby on the text keys costs more
    race, races = pd.factorize(history["race_id"])
    n_races = len(races)
    odds = pd.to_numeric(history["final_odds"], errors="coerce").to_numpy(dtype=float)
    inverse = np.divide(1.0, odds, out=np.full(len(odds), np.nan), where=odds > 1.0)
    priced = np.isfinite(inverse)
    prob = inverse / np.bincount(race, weights=np.where(priced, inverse, 0.0), minlength=n_races)[race]
    size = np.bincount(race, minlength=n_races)[race].astype(float)
    won = history["is_winner"].astype("boolean").fillna(False).to_numpy(dtype=float)
    has_winner = np.bincount(race, weights=won, minlength=n_races)[race] > 0
    rating = (
        pd.to_numeric(history["f_rating_total"], errors="coerce").to_numpy(dtype=float)
        if "f_rating_total" in history.columns
        else np.full(len(history), np.nan)
    )
    # log Σ over the opponents of e^r, shifted by the race's top rating for stability
    rated = np.isfinite(rating)
    peak = np.full(n_races, -np.inf)
    np.maximum.at(peak, race, np.where(rated, rating, -np.inf))
    shifted = np.exp(np.where(rated, rating - peak[race], -np.inf))
    others = np.bincount(race, weights=shifted, minlength=n_races)[race] - shifted
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_opponents = np.where(others > 0, np.log(others) + peak[race], np.nan)
        # a lone priced runner (p = 1) has no finite logit
        logit = np.where(prob < 1.0, np.log(prob / (1.0 - prob)), np.nan)
        runs = pd.DataFrame(
            {
                "horse_key": history["horse_key"],
                "race_date": pd.to_datetime(history["race_date"]),
                "race_id": history["race_id"],
                "log_prob": np.log(prob),
                "log_pn": np.log(prob * size),
                "strength": logit + log_opponents,
                "residual": won - prob,
            }
        )
    keep = priced & has_winner & history["horse_key"].notna().to_numpy()
    return runs.loc[keep].reset_index(drop=True)


def horse_states(runs: pd.DataFrame) -> pd.DataFrame:
    """Per horse and race date: its market summary once that day's races are over."""
    runs = runs.sort_values(["horse_key", "race_date", "race_id"], kind="stable").reset_index(drop=True)
    by_horse = runs.groupby(pd.factorize(runs["horse_key"])[0], sort=False)
    state = pd.DataFrame(
        {
            "horse_key": runs["horse_key"],
            "last_date": runs["race_date"],
            "f_past_mkt_last_log_prob": runs["log_prob"],
            "f_past_mkt_last_log_pn": runs["log_pn"],
            "f_past_mkt_last_strength": runs["strength"],
            "f_past_mkt_last_residual": runs["residual"],
            "f_past_mkt_runs": by_horse.cumcount().to_numpy() + 1.0,
        }
    )
    for source, name in (
        ("log_prob", "ewm_log_prob"),
        ("residual", "ewm_residual"),
        ("strength", "ewm_strength"),
    ):
        # adjust=True: Σ (1−α)^age·x / Σ (1−α)^age over the runs so far, the latest at age 0
        ewm = by_horse[source].ewm(alpha=EWM_ALPHA).mean()
        state[f"f_past_mkt_{name}"] = ewm.reset_index(level=0, drop=True).sort_index().to_numpy()
    # several runs on one day: the day's last one holds the state after it
    return state.drop_duplicates(["horse_key", "last_date"], keep="last").reset_index(drop=True)


def market_history_features(runners: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """runners: race_id, num_pmu, race_date, horse_key (the rows to describe). history: as for
    past_runs, any dates (only those before each runner's race date are used). Returns race_id,
    num_pmu and MARKET_HISTORY_FEATURES; a horse without a priced past run gets 0 runs, NaN elsewhere."""
    left = runners[["race_id", "num_pmu", "race_date", "horse_key"]].copy()
    left["_order"] = np.arange(len(left))
    left["race_date"] = pd.to_datetime(left["race_date"])
    # one key type on both sides (the database's text, a test's object column)
    left["horse_key"] = left["horse_key"].astype("string")
    runs = past_runs(history)
    runs["horse_key"] = runs["horse_key"].astype("string")
    # only the described horses' pasts: scoring a day follows a few hundred horses, not all
    states = horse_states(runs.loc[runs["horse_key"].isin(left["horse_key"].dropna().unique())])
    known = left["horse_key"].notna()
    states = states.sort_values("last_date", kind="stable")
    matched = pd.merge_asof(
        left.loc[known].sort_values("race_date", kind="stable"),
        states,
        left_on="race_date",
        right_on="last_date",
        by="horse_key",
        allow_exact_matches=False,  # the race's own day is not known yet
        direction="backward",
    )
    out = pd.concat([matched, left.loc[~known]], ignore_index=True).sort_values("_order")
    out["f_past_mkt_runs"] = out["f_past_mkt_runs"].fillna(0.0)
    out["f_past_mkt_days_since"] = (out["race_date"] - out["last_date"]).dt.days.astype(float)
    return out[["race_id", "num_pmu", *MARKET_HISTORY_FEATURES]].reset_index(drop=True)
