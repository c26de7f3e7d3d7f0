"""Finishing-order probabilities from a race's win probabilities: place, Couplé, Trio, 2sur4, Multi,
Tiercé, Quarté+, Quinté+ (the bet rules are pmu_core.facts.BET_RULES).

The order is a Plackett–Luce draw in which place k is won among the horses still running with
strengths p_i**λ_k (Stern's discounted Harville): λ = (1, 1, 1, …) is Harville's model, which
over-rates favourites for the minor places; λ_k < 1 flattens the field for place k. λ_1 = 1 always,
so the win probabilities are kept. `fit_discounts` fits λ_2.. by maximum likelihood on observed
orders.

Events that look at the first `top` finishers are summed exactly over every ordered prefix when the
prefixes are few (n**top ≤ EXACT_MAX_PREFIXES), otherwise estimated by a seeded Monte Carlo of orders
(Gumbel keys per place) with its standard error: Quinté+ events in big fields.

Horses are indices into `p_win` (0-based); callers map numPmu to indices."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pmu_core.facts import BetRule, Payout, bet_rule, payout_top, simple_place_places

EPS = 1e-12
HARVILLE: tuple[float, ...] = (1.0,)
# λ per place for publishing and pricing are the model's own: fitted on its training window's
# market and arrivals by `pipeline.modeling.train` (registry metrics `place_discounts`), as a
# walk-forward evaluation refits them per fold. Without them (an older model): Harville.
DEFAULT_DISCOUNTS: tuple[float, ...] = HARVILLE
EXACT_MAX_PREFIXES = 200_000
DEFAULT_SAMPLES = 200_000
MAX_FITTED_PLACES = 5


@dataclass(frozen=True)
class Estimate:
    probability: float
    std_error: float  # 0 when exact
    method: str  # "exact" | "monte_carlo"
    n_samples: int = 0


def exponents(lambdas: Sequence[float], depth: int) -> np.ndarray:
    """λ for places 1..depth: the given ones, the last repeated beyond them; place 1 is always 1."""
    lam = [float(x) for x in (lambdas or HARVILLE)] or [1.0]
    lam[0] = 1.0
    lam += [lam[-1]] * max(0, depth - len(lam))
    return np.asarray(lam[:depth], dtype=float)


def _log_p(p_win) -> np.ndarray:
    p = np.clip(np.asarray(p_win, dtype=float), EPS, None)
    return np.log(p / p.sum())


def place_strengths(p_win, lambdas: Sequence[float], depth: int) -> np.ndarray:
    """(depth, n): strength of each horse for places 1..depth, p**λ_k (rows not normalised)."""
    log_p = _log_p(p_win)
    lam = exponents(lambdas, depth)
    return np.exp(lam[:, None] * (log_p - log_p.max())[None, :])


def prefix_probabilities(p_win, depth: int, lambdas: Sequence[float] = HARVILLE) -> np.ndarray:
    """P(first `depth` finishers are i1, i2, …) as a dense array of shape (n,)*depth (0 where an
    index repeats). Size n**depth: callers keep depth small (see EXACT_MAX_PREFIXES)."""
    n = len(p_win)
    if depth > n:
        raise ValueError(f"{depth} places asked of a field of {n}")
    s = place_strengths(p_win, lambdas, depth)
    prob = s[0] / s[0].sum()
    for k in range(1, depth):
        # strength already taken by the horses of the prefix, at place k's exponent
        taken = np.zeros((n,) * k)
        for axis in range(k):
            shape = [1] * k
            shape[axis] = n
            taken = taken + s[k].reshape(shape)
        remaining = s[k].sum() - taken
        step = s[k].reshape((1,) * k + (n,)) / np.where(remaining > EPS, remaining, np.inf)[..., None]
        prob = prob[..., None] * step
        for axis in range(k):  # the new horse cannot be one already placed
            shape = [1] * (k + 1)
            shape[axis], shape[k] = n, n
            prob = prob * (1.0 - np.eye(n).reshape(shape))
    return prob


def ordered_probability(p_win, sequence: Sequence[int], lambdas: Sequence[float] = HARVILLE) -> float:
    """P(the first len(sequence) finishers are exactly `sequence`, in that order)."""
    s = place_strengths(p_win, lambdas, len(sequence))
    used = np.zeros(len(p_win), dtype=bool)
    prob = 1.0
    for k, horse in enumerate(sequence):
        if used[horse]:
            return 0.0
        prob *= s[k, horse] / s[k, ~used].sum()
        used[horse] = True
    return float(prob)


def top_set_probability(p_win, members: Sequence[int], lambdas: Sequence[float] = HARVILLE) -> float:
    """P(the first len(members) finishers are `members`, in any order)."""
    return float(sum(ordered_probability(p_win, perm, lambdas) for perm in itertools.permutations(members)))


def sample_orders(
    p_win, depth: int, lambdas: Sequence[float], n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_samples, depth) indices of the first `depth` finishers, drawn place by place: the winner of
    place k is the argmax of λ_k·log p + Gumbel noise among the horses not yet placed."""
    log_p = _log_p(p_win)
    lam = exponents(lambdas, depth)
    n = len(log_p)
    taken = np.zeros((n_samples, n), dtype=bool)
    out = np.empty((n_samples, depth), dtype=np.int64)
    rows = np.arange(n_samples)
    for k in range(depth):
        keys = lam[k] * log_p[None, :] + rng.gumbel(size=(n_samples, n))
        keys[taken] = -np.inf
        pick = keys.argmax(axis=1)
        out[:, k] = pick
        taken[rows, pick] = True
    return out


def place_probabilities(
    p_win: np.ndarray, *, starters: int | None = None, lambdas: Sequence[float] = DEFAULT_DISCOUNTS
) -> np.ndarray:
    """P(each horse is paid in Simple placé): in the first 3 with 8+ starters, the first 2 with 4 to
    7 (pmu_core.facts.SIMPLE_PLACE_PLACES); NaN throughout below 4 starters (no place pool).
    `starters` defaults to the horses in p_win (the field scored)."""
    p_win = np.asarray(p_win, dtype=float)
    places = simple_place_places(len(p_win) if starters is None else starters)
    if places == 0 or len(p_win) < places:
        return np.full(len(p_win), np.nan)
    return top_k_probabilities(p_win, places, lambdas)


def place_probabilities_by_race(
    race_ids, p_win, *, lambdas: Sequence[float] = DEFAULT_DISCOUNTS
) -> np.ndarray:
    """place_probabilities for rows grouped by race (one field per race, as scored): what a
    publication's `p_place` column holds (NaN where the field has no place pool)."""
    ids = np.asarray(race_ids)
    p_win = np.asarray(p_win, dtype=float)
    out = np.full(len(p_win), np.nan)
    for race in dict.fromkeys(ids.tolist()):
        rows = np.flatnonzero(ids == race)
        out[rows] = place_probabilities(p_win[rows], lambdas=lambdas)
    return out


def top_k_probabilities(p_win, k: int, lambdas: Sequence[float] = HARVILLE) -> np.ndarray:
    """P(each horse finishes in the first k), exactly (k ≤ 3 in practice)."""
    n = len(p_win)
    out = np.zeros(n)
    for depth in range(1, min(k, n) + 1):
        prefix = prefix_probabilities(p_win, depth, lambdas)
        out += prefix.reshape(-1, n).sum(axis=0)  # the horse placed at `depth`
    return out


# ---- events of a bet type ------------------------------------------------------------------------


def _hits_mask(chosen: np.ndarray, depth: int, top: int, hits: int) -> np.ndarray:
    """Over prefixes of length `depth`: whether ≥ `hits` chosen horses are among the first `top`."""
    n = len(chosen)
    count = np.zeros((n,) * depth)
    for axis in range(top):
        shape = [1] * depth
        shape[axis] = n
        count = count + chosen.astype(float).reshape(shape)
    return count >= hits


def _ordered_mask(sequence: Sequence[int], n: int, depth: int) -> np.ndarray:
    mask = np.zeros((n,) * depth, dtype=bool)
    index = tuple(sequence) + (slice(None),) * (depth - len(sequence))
    mask[index] = True
    return mask


def _sample_hits(orders: np.ndarray, chosen: np.ndarray, top: int, hits: int) -> np.ndarray:
    return chosen[orders[:, :top]].sum(axis=1) >= hits


def _sample_ordered(orders: np.ndarray, sequence: Sequence[int]) -> np.ndarray:
    return (orders[:, : len(sequence)] == np.asarray(sequence)[None, :]).all(axis=1)


def check_combination(rule: BetRule, combination: Sequence[int], n: int) -> None:
    if not rule.min_horses <= len(combination) <= rule.max_horses:
        wanted = (
            str(rule.min_horses)
            if rule.min_horses == rule.max_horses
            else f"{rule.min_horses} to {rule.max_horses}"
        )
        raise ValueError(f"{rule.code} takes {wanted} horses, not {len(combination)}")
    if len(set(combination)) != len(combination):
        raise ValueError(f"a horse appears twice in {list(combination)}")
    if any(not 0 <= h < n for h in combination):
        raise ValueError(f"horse index outside the field of {n}")


@dataclass(frozen=True)
class RankProbability:
    label: str
    event: Estimate  # P(the combination wins this rank's event)
    paid: Estimate  # P(this is the best rank it wins: what it is paid)


def bet_probabilities(
    p_win,
    code: str,
    combination: Sequence[int],
    *,
    starters: int | None = None,
    lambdas: Sequence[float] = DEFAULT_DISCOUNTS,
    max_exact: int = EXACT_MAX_PREFIXES,
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> list[RankProbability]:
    """The probability of each rank of dividend of a combination (`code` as in rapports bodies),
    exactly when the field's prefixes are few, else by Monte Carlo with its standard error."""
    rule = bet_rule(code)
    p_win = np.asarray(p_win, dtype=float)
    n = len(p_win)
    starters = n if starters is None else starters
    check_combination(rule, combination, n)
    if starters < rule.min_starters:
        raise ValueError(f"{rule.code} needs {rule.min_starters} starters (the field has {starters})")
    payouts = [(p, payout_top(p, starters)) for p in rule.payouts]
    depth = max(top for _, top in payouts)
    if depth > n:
        raise ValueError(f"{rule.code} looks at {depth} places, the field has {n} horses")
    chosen = np.zeros(n, dtype=bool)
    chosen[list(combination)] = True
    labels = [p.label.format(n=len(combination)) for p, _ in payouts]
    if n**depth <= max_exact:
        prefix = prefix_probabilities(p_win, depth, lambdas)
        masks = [
            _ordered_mask(combination, n, depth) if p.ordered else _hits_mask(chosen, depth, top, p.hits)
            for p, top in payouts
        ]
        better = np.zeros_like(masks[0])
        out = []
        for label, mask in zip(labels, masks, strict=True):
            event = float(prefix[mask].sum())
            paid = float(prefix[mask & ~better].sum())
            out.append(RankProbability(label, Estimate(event, 0.0, "exact"), Estimate(paid, 0.0, "exact")))
            better |= mask
        return out
    orders = sample_orders(p_win, depth, lambdas, n_samples, np.random.default_rng(seed))
    better = np.zeros(n_samples, dtype=bool)
    out = []
    for label, (p, top) in zip(labels, payouts, strict=True):
        hit = _sample_ordered(orders, combination) if p.ordered else _sample_hits(orders, chosen, top, p.hits)
        out.append(
            RankProbability(label, _mc_estimate(hit, n_samples), _mc_estimate(hit & ~better, n_samples))
        )
        better |= hit
    if rule.payouts[0].ordered:  # an exact order is cheap to compute exactly: replace its estimate
        exact = ordered_probability(p_win, combination, lambdas)
        first = out[0]
        out[0] = RankProbability(first.label, Estimate(exact, 0.0, "exact"), Estimate(exact, 0.0, "exact"))
    return out


def _mc_estimate(hit: np.ndarray, n_samples: int) -> Estimate:
    p = float(hit.mean())
    return Estimate(p, float(np.sqrt(max(p * (1 - p), 0.0) / n_samples)), "monte_carlo", n_samples)


def fair_dividend(probability: float, takeout: float) -> float:
    """The dividend per 1 EUR a pool would pay if the crowd priced the combination at
    `probability`: what is left after PMU's share, spread over the winning stakes."""
    return float("inf") if probability <= 0 else (1.0 - takeout) / probability


# ---- fitting the discounts -----------------------------------------------------------------------


def _place_terms(p_races: Sequence[np.ndarray], orders: Sequence[Sequence[int]], k: int):
    """For place k (0-based) of every race whose order reaches it: log p of the horses still running
    (flattened), their race index, and log p of the horse that took place k."""
    log_ps, groups, winners = [], [], []
    for p, order in zip(p_races, orders, strict=True):
        if len(order) <= k:
            continue
        log_p = _log_p(p)
        keep = np.ones(len(log_p), dtype=bool)
        keep[list(order[:k])] = False
        log_ps.append(log_p[keep])
        groups.append(np.full(int(keep.sum()), len(winners)))
        winners.append(log_p[order[k]])
    if not winners:
        return None
    return np.concatenate(log_ps), np.concatenate(groups), np.asarray(winners)


def _fit_one(terms, lo: float = 0.05, hi: float = 3.0, iterations: int = 50) -> float:
    """argmax over λ of Σ_races [λ·log p_winner − log Σ_remaining p_j^λ] (concave in λ): Newton."""
    log_p, group, winner = terms
    lam = 1.0
    for _ in range(iterations):
        z = lam * log_p
        z_max = np.maximum.reduceat(z, np.r_[0, np.flatnonzero(np.diff(group)) + 1])
        w = np.exp(z - z_max[group])
        total = np.bincount(group, w)
        mean = np.bincount(group, w * log_p) / total
        second = np.bincount(group, w * log_p**2) / total
        grad = float((winner - mean).sum())
        hess = float(-(second - mean**2).sum())
        if hess >= -EPS:
            break
        step = -grad / hess
        lam_new = float(np.clip(lam + step, lo, hi))
        if abs(lam_new - lam) < 1e-7:
            lam = lam_new
            break
        lam = lam_new
    return lam


def fit_discounts(
    p_races: Sequence[np.ndarray], orders: Sequence[Sequence[int]], places: int = 4
) -> tuple[float, ...]:
    """Maximum-likelihood λ_2..λ_places from races' win probabilities and their observed finishing
    orders (indices of the first finishers, strictly ordered: callers cut an order at its first dead
    heat). Each place's term of the likelihood depends on its own λ only, so each is a 1-D concave
    fit. A place no race reaches keeps the previous λ."""
    lam = [1.0]
    for k in range(1, min(places, MAX_FITTED_PLACES)):
        terms = _place_terms(p_races, orders, k)
        lam.append(_fit_one(terms) if terms is not None else lam[-1])
    return tuple(round(x, 4) for x in lam)


def order_log_likelihood(p_win, order: Sequence[int], lambdas: Sequence[float], places: int) -> float:
    """log P(the first `places` finishers in `order`) under the discounted model."""
    return float(np.log(max(ordered_probability(p_win, list(order[:places]), lambdas), EPS)))


def strict_prefix(places: Sequence[float | None]) -> list[int]:
    """Indices of the finishers in order, cut before the first dead heat or missing place: the part
    of the arrival a strict order can explain. `places` = finish place per horse (None: unplaced)."""
    ranked = sorted(
        (int(pl), i) for i, pl in enumerate(places) if pl is not None and np.isfinite(pl) and pl > 0
    )
    out = []
    for pos, (place, idx) in enumerate(ranked):
        tied = (pos + 1 < len(ranked) and ranked[pos + 1][0] == place) or (
            pos > 0 and ranked[pos - 1][0] == place
        )
        if tied or place != pos + 1:
            break
        out.append(idx)
    return out


def winning_payout(
    rule: BetRule, payout: Payout, combination: Sequence[int], places: Sequence[float | None], starters: int
) -> bool:
    """Whether a combination wins a rank on an arrival given as finish place per horse (dead heats
    share a place): won when some order of the tied horses makes it win, which is how PMU's
    règlement lists the payable combinations of a dead heat."""
    top = payout_top(payout, starters)
    rank = {i: pl for i, pl in enumerate(places) if pl is not None and np.isfinite(pl) and pl > 0}
    position = {c: k for k, c in enumerate(combination)}
    # the most favourable tie-break: chosen horses first within a tie, in the combination's order
    best = sorted(rank, key=lambda i: (rank[i], position.get(i, len(combination))))
    if payout.ordered:
        return best[: len(combination)] == list(combination)
    return sum(1 for i in best[:top] if i in position) >= payout.hits
