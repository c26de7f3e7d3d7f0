"""The frame every model and metric takes: one row per starter, grouped by race.

Columns: race_id, race_date, num_pmu, the features `f_*`, `mkt_implied_prob` (market at the
cut-off), `won` (0/1; absent when scoring), optionally mkt_odds, final_odds, race_start_at, p_truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.groups import normalise_by_race, race_starts, race_sum

REQUIRED = ("race_id", "race_date", "num_pmu")
MIN_MARKET_PROB = 1e-4


def feature_columns(df: pd.DataFrame) -> list[str]:
    return sorted(c for c in df.columns if c.startswith("f_"))


def prepare(df: pd.DataFrame, *, require_outcome: bool = True) -> pd.DataFrame:
    """Sort by race, check the contract, derive `mkt_prob` (the market as a distribution per race)
    and drop races a win model cannot use: fewer than 2 runners, or (with outcomes) no winner."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"frame lacks required columns {missing}")
    if require_outcome and "won" not in df.columns:
        raise ValueError("frame lacks the outcome column `won`")
    if df.duplicated(["race_id", "num_pmu"]).any():
        raise ValueError("duplicate (race_id, num_pmu) rows")
    out = df.sort_values(["race_id", "num_pmu"], kind="stable").reset_index(drop=True)
    out["race_date"] = pd.to_datetime(out["race_date"]).dt.date
    for col in feature_columns(out) + [
        c for c in ("mkt_implied_prob", "mkt_odds", "final_odds") if c in out.columns
    ]:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    sizes = out.groupby("race_id", sort=False)["num_pmu"].transform("size")
    keep = sizes >= 2
    if require_outcome:
        out["won"] = out["won"].fillna(False).astype(float)
        keep &= out.groupby("race_id", sort=False)["won"].transform("sum") > 0
    # one copy consolidates the columns converted one by one above (pandas warns otherwise)
    out = out.loc[keep].reset_index(drop=True).copy()
    out["mkt_priced"] = priced_runners(out)
    out["mkt_prob"] = market_distribution(out)
    return out


def priced_runners(df: pd.DataFrame) -> np.ndarray:
    """Per row: whether the market priced this runner at the cut-off."""
    if "mkt_implied_prob" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return pd.to_numeric(df["mkt_implied_prob"], errors="coerce").to_numpy(dtype=float) > 0


COVERAGE_CLASSES = ("full", "partly", "none")


def coverage_class(race_ids, priced) -> np.ndarray:
    """Per row, its race's market coverage: every runner priced, some, or none."""
    race_ids = np.asarray(race_ids)
    priced = pd.Series(np.asarray(priced, dtype=bool))
    every = priced.groupby(race_ids).transform("all").to_numpy()
    some = priced.groupby(race_ids).transform("any").to_numpy()
    return np.where(every, "full", np.where(some, "partly", "none"))


def market_distribution(df: pd.DataFrame) -> np.ndarray:
    """`mkt_implied_prob` renormalised per race. A runner the market did not price gets half the
    race's smallest price (a long shot, not nothing); a race without any price gets NaN throughout."""
    if "mkt_implied_prob" not in df.columns or df.empty:
        return np.full(len(df), np.nan)
    raw = df["mkt_implied_prob"].to_numpy(dtype=float)
    raw = np.where(raw > 0, raw, np.nan)
    floor = pd.Series(raw).groupby(df["race_id"].to_numpy()).transform("min").to_numpy() * 0.5
    filled = np.clip(np.where(np.isnan(raw), floor, raw), MIN_MARKET_PROB, None)
    return normalise_by_race(filled, race_starts(df["race_id"].to_numpy()))


def has_market(df: pd.DataFrame) -> np.ndarray:
    """Per row: whether its race carries a market distribution."""
    return np.isfinite(df["mkt_prob"].to_numpy(dtype=float))


def closing_distribution(df: pd.DataFrame) -> np.ndarray:
    """1/final odds normalised per race (NaN for races missing a final price)."""
    if "final_odds" not in df.columns:
        return np.full(len(df), np.nan)
    odds = df["final_odds"].to_numpy(dtype=float)
    inv = np.where(odds > 0, 1.0 / odds, np.nan)
    starts = race_starts(df["race_id"].to_numpy())
    return normalise_by_race(inv, starts)


def select_races(df: pd.DataFrame, mask_rows: np.ndarray) -> pd.DataFrame:
    """Whole races whose rows are all True in mask_rows."""
    keep = pd.Series(mask_rows).groupby(df["race_id"].to_numpy()).transform("all").to_numpy()
    return df.loc[keep].reset_index(drop=True)


def n_races(df: pd.DataFrame) -> int:
    return int(df["race_id"].nunique())


def winners_per_race(df: pd.DataFrame) -> np.ndarray:
    return race_sum(df["won"].to_numpy(dtype=float), race_starts(df["race_id"].to_numpy()))
