"""How good are the place and exotic probabilities: Harville against the discounted model, on
held-out races with their finishing order, and what the most probable combinations earn at PMU's
official dividends against the market's favourites.

Inputs are the evaluation's held-out frame (one row per starter, sorted by race: race_id, num_pmu,
finish_place, the win probability columns) and, for the returns, the races' official rows
(marts.bet_report). The discounts are fitted on a training window only (`fit_on_frame`)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ml import finishing, metrics
from ml.settlement import DividendRow, parse_combination, settle
from pmu_core.facts import bet_rule, simple_place_places

EPS = 1e-12
# The bets whose most probable combination is compared with the market's favourites.
ROI_BETS = ("SIMPLE_PLACE", "COUPLE_GAGNANT", "COUPLE_PLACE", "DEUX_SUR_QUATRE", "TRIO")


def _races(frame: pd.DataFrame, p_col: str):
    """(race_id, num_pmu array, p array (renormalised), finish places, the race's rows) per race
    with a full price."""
    for race_id, race in frame.groupby("race_id", sort=False):
        p = race[p_col].to_numpy(dtype=float)
        if len(p) < 2 or not np.isfinite(p).all() or p.sum() <= 0:
            continue
        places = pd.to_numeric(race["finish_place"], errors="coerce").to_numpy(dtype=float)
        yield race_id, race["num_pmu"].to_numpy(dtype=int), p / p.sum(), places, race


def fit_on_frame(frame: pd.DataFrame, p_col: str, places: int = 4) -> tuple[float, ...]:
    """Discounts fitted by maximum likelihood on the strict part of every race's arrival."""
    p_races, orders = [], []
    for _, _, p, finish, _ in _races(frame, p_col):
        order = finishing.strict_prefix([None if np.isnan(x) else x for x in finish])
        if len(order) >= 2:
            p_races.append(p)
            orders.append(order)
    if not p_races:
        return finishing.HARVILLE
    return finishing.fit_discounts(p_races, orders, places=places)


def _set_probabilities(prefix: np.ndarray) -> np.ndarray:
    """P(the set of the first k finishers) as a symmetric array from the ordered prefix array."""
    k = prefix.ndim
    return sum(np.transpose(prefix, perm) for perm in itertools.permutations(range(k)))


def _binary_nll(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def race_scores(p: np.ndarray, finish: np.ndarray, lambdas: Sequence[float]) -> dict:
    """One race under one order model: per-runner place probabilities and outcomes (PMU's rule for
    the field), -log P(realised top-2 / top-3 set) where the arrival is strict that far, and every
    pair's / triple's set probability with its outcome (for calibration)."""
    n = len(p)
    out: dict = {}
    k = simple_place_places(n)
    has_place = np.isfinite(finish) & (finish > 0)
    if k and has_place.any() and n >= k:
        out["p_place"] = finishing.top_k_probabilities(p, k, lambdas)
        out["placed"] = (has_place & (finish <= k)).astype(float)
    order = finishing.strict_prefix([None if np.isnan(x) else x for x in finish])
    prefix = None
    for size in (2, 3):
        if n < size + 1:
            continue
        prefix = finishing.prefix_probabilities(p, size, lambdas)
        sets = _set_probabilities(prefix)
        if len(order) >= size:
            out[f"top{size}_nll"] = float(-np.log(max(sets[tuple(order[:size])], EPS)))
            members = set(order[:size])
            combos = list(itertools.combinations(range(n), size))
            out[f"top{size}_p"] = np.array([sets[c] for c in combos])
            out[f"top{size}_hit"] = np.array([float(set(c) == members) for c in combos])
    return out


def _delta_ci(base: np.ndarray, new: np.ndarray, *, n_boot: int, seed: int, level: float = 0.95) -> dict:
    """Mean per-race loss base − new (positive: new is better) with a percentile bootstrap CI over
    races."""
    diff = np.asarray(base, dtype=float) - np.asarray(new, dtype=float)
    idx = metrics.bootstrap_indices(len(diff), n_boot, seed)
    draws = diff[idx].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return {"value": float(diff.mean()), "ci_low": float(low), "ci_high": float(high), "n_races": len(diff)}


def compare_order_models(
    frame: pd.DataFrame,
    p_col: str,
    lambdas_by_race: dict[str, Sequence[float]] | Sequence[float],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Harville vs the discounted model on the races of `frame` (win probabilities `p_col`): place
    log loss per race (mean over its runners), top-2 and top-3 set log loss, calibration tables,
    and the differences Harville − discounted with bootstrap CIs (above 0: the discount helps)."""
    models = {"harville": None, "discounted": None}
    acc: dict[str, dict[str, list]] = {m: {} for m in models}
    race_ids: dict[str, list] = {"place": [], "top2": [], "top3": []}
    for race_id, _, p, finish, _ in _races(frame, p_col):
        lam = lambdas_by_race.get(race_id) if isinstance(lambdas_by_race, dict) else lambdas_by_race
        if lam is None:
            continue
        scored = {
            "harville": race_scores(p, finish, finishing.HARVILLE),
            "discounted": race_scores(p, finish, lam),
        }
        for name, s in scored.items():
            a = acc[name]
            if "p_place" in s:
                a.setdefault("place_nll", []).append(float(_binary_nll(s["p_place"], s["placed"]).mean()))
                a.setdefault("place_p", []).append(s["p_place"])
                a.setdefault("placed", []).append(s["placed"])
            for size in (2, 3):
                if f"top{size}_nll" in s:
                    a.setdefault(f"top{size}_nll", []).append(s[f"top{size}_nll"])
                    a.setdefault(f"top{size}_p", []).append(s[f"top{size}_p"])
                    a.setdefault(f"top{size}_hit", []).append(s[f"top{size}_hit"])
        if "p_place" in scored["harville"]:
            race_ids["place"].append(race_id)
    out: dict = {"p": p_col}
    for name in models:
        a = acc[name]
        summary = {}
        if a.get("place_nll"):
            p_all, y_all = np.concatenate(a["place_p"]), np.concatenate(a["placed"])
            summary["place_log_loss"] = float(np.mean(a["place_nll"]))
            summary["place_brier"] = float(np.mean((p_all - y_all) ** 2))
            summary["place_calibration"] = metrics.calibration_table(p_all, y_all)
        for size in (2, 3):
            if a.get(f"top{size}_nll"):
                summary[f"top{size}_set_log_loss"] = float(np.mean(a[f"top{size}_nll"]))
                summary[f"top{size}_set_calibration"] = metrics.calibration_table(
                    np.concatenate(a[f"top{size}_p"]), np.concatenate(a[f"top{size}_hit"])
                )
        out[name] = summary
    h, d = acc["harville"], acc["discounted"]
    out["races_place"] = len(h.get("place_nll", []))
    out["races_top2"] = len(h.get("top2_nll", []))
    out["races_top3"] = len(h.get("top3_nll", []))
    for key, metric in (("place", "place_nll"), ("top2", "top2_nll"), ("top3", "top3_nll")):
        if h.get(metric):
            out[f"delta_{key}_log_loss_harville_minus_discounted"] = _delta_ci(
                np.array(h[metric]), np.array(d[metric]), n_boot=n_boot, seed=seed
            )
    return out


# ---- returns at the official dividends -----------------------------------------------------------


def dividend_rows(dividends: pd.DataFrame) -> dict[tuple[str, str], tuple[bool, list[DividendRow]]]:
    """(race_id, bet_type) -> (refunded, rows) from marts.bet_report columns."""
    out: dict[tuple[str, str], tuple[bool, list[DividendRow]]] = {}
    for (race_id, bet_type), rows in dividends.groupby(["race_id", "bet_type"], sort=False):
        parsed = []
        for r in rows.itertuples(index=False):
            if r.combination is None or r.dividend_per_eur is None or pd.isna(r.dividend_per_eur):
                continue
            try:
                parsed.append(
                    DividendRow(r.label, parse_combination(r.combination), float(r.dividend_per_eur))
                )
            except ValueError:
                continue  # a row PMU printed without horse numbers pays nothing we can match
        out[(race_id, bet_type)] = (bool(rows["is_refunded"].fillna(False).any()), parsed)
    return out


def best_combination(p: np.ndarray, code: str, lambdas: Sequence[float]) -> tuple[int, ...]:
    """The combination of `code` most likely to be paid under the order model (indices)."""
    rule = bet_rule(code)
    n = len(p)
    size = rule.min_horses
    if code == "SIMPLE_PLACE":
        return (int(np.argmax(finishing.top_k_probabilities(p, simple_place_places(n), lambdas))),)
    payout = rule.payouts[0]
    top = payout.top
    if n < top:
        raise ValueError("field too small")
    if size == top:  # the set of the first `size`: Couplé gagnant, Trio
        sets = _set_probabilities(finishing.prefix_probabilities(p, size, lambdas))
    else:  # both horses among the first `top` (Couplé placé, 2sur4): P(i, j both in the top)
        prefix = finishing.prefix_probabilities(p, top, lambdas)
        sets = np.zeros((n, n))
        for a, b in itertools.permutations(range(top), 2):
            axes = tuple(x for x in range(top) if x not in (a, b))
            sets += prefix.sum(axis=axes) if a < b else prefix.sum(axis=axes).T
    combos = list(itertools.combinations(range(n), size))
    values = [sets[c] for c in combos]
    return tuple(int(i) for i in combos[int(np.argmax(values))])


def returns_at_dividends(
    frame: pd.DataFrame,
    p_col: str,
    dividends: pd.DataFrame,
    lambdas_by_race: dict[str, Sequence[float]] | Sequence[float],
    *,
    bets: Sequence[str] = ROI_BETS,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Flat 1 EUR on the model's most probable combination of each bet type in each race with
    official rows for it, against 1 EUR on the market favourites' combination (the `size` horses the
    market rates highest), both paid at the official dividend per euro (refunds give the stake
    back). ROI = (returns − stakes) / stakes with a bootstrap CI over races."""
    rows = dividend_rows(dividends)
    per_bet: dict[str, dict[str, list]] = {b: {"model": [], "favourites": [], "same": []} for b in bets}
    for race_id, nums, p, _, race in _races(frame, p_col):
        market = race["p_market"].to_numpy(dtype=float) if "p_market" in race else None
        lam = lambdas_by_race.get(race_id) if isinstance(lambdas_by_race, dict) else lambdas_by_race
        if lam is None or market is None or not np.isfinite(market).all():
            continue
        for code in bets:
            key = (race_id, code)
            if key not in rows:
                continue
            rule = bet_rule(code)
            if len(p) < max(rule.min_starters, rule.payouts[0].top or 3):
                continue
            refunded, official = rows[key]
            model_pick = best_combination(p, code, lam)
            fav_pick = tuple(int(i) for i in np.argsort(-market, kind="stable")[: rule.min_horses])
            for who, pick in (("model", model_pick), ("favourites", fav_pick)):
                s = settle(rule, [int(nums[i]) for i in pick], official, refunded=refunded)
                per_bet[code][who].append(s.return_per_eur)
            per_bet[code]["same"].append(set(model_pick) == set(fav_pick))
    out = {}
    for code, r in per_bet.items():
        if not r["model"]:
            continue
        entry = {"races": len(r["model"]), "same_pick_share": float(np.mean(r["same"]))}
        for who in ("model", "favourites"):
            returns = np.asarray(r[who])
            idx = metrics.bootstrap_indices(len(returns), n_boot, seed)
            draws = returns[idx].mean(axis=1) - 1.0
            entry[who] = {
                "roi": float(returns.mean() - 1.0),
                "roi_ci_low": float(np.quantile(draws, 0.025)),
                "roi_ci_high": float(np.quantile(draws, 0.975)),
                "hit_rate": float((returns > 1.0).mean()),
            }
        out[code] = entry
    return out
