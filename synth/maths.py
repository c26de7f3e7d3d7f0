"""Pure maths of the synthetic world: win probabilities, Plackett–Luce draws, the market's odds and
pari-mutuel dividends. Small functions, tested directly."""

from __future__ import annotations

import numpy as np


def softmax(scores: np.ndarray) -> np.ndarray:
    """Win probabilities of a Plackett–Luce model with these log-strengths."""
    z = np.exp(scores - scores.max())
    return z / z.sum()


def plackett_luce_order(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One finishing order (indices, winner first) drawn from Plackett–Luce with log-strengths
    `scores`: sorting scores plus Gumbel noise is an exact draw, so P(first = i) = softmax(scores)_i."""
    return np.argsort(-(scores + rng.gumbel(size=scores.shape)), kind="stable")


def market_probabilities(
    p_true: np.ndarray,
    noise_sd: float,
    longshot_bias: float,
    rng: np.random.Generator,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """The crowd's view of the win probabilities: the truth seen through log-normal noise, then
    flattened (exponent < 1) so that longshots are over-bet and favourites under-bet, as in real
    pari-mutuel pools (favourite–longshot bias)."""
    if noise is None:
        noise = rng.normal(0.0, noise_sd, size=p_true.shape)
    view = longshot_bias * (np.log(p_true) + noise)
    return softmax(view)


MAX_ODDS = 999.0


def odds_from_probabilities(q: np.ndarray, takeout: float) -> np.ndarray:
    """Pari-mutuel decimal odds: the pool less the takeout shared over the stakes on each runner,
    rounded to 0.1 below 10 and to 1 from 10 on, within [1.1, MAX_ODDS] (the tote shows no more:
    the real recordings top out in the hundreds, a deep longshot of a noisy view could reach 10^4)."""
    raw = (1.0 - takeout) / q
    rounded = np.where(raw < 10.0, np.round(raw * 10.0) / 10.0, np.round(raw))
    return np.clip(rounded, 1.1, MAX_ODDS)


def overround(odds: np.ndarray) -> float:
    """Sum of 1/odds: about 1/(1 - takeout) for a pari-mutuel market."""
    return float(np.sum(1.0 / odds))


def harville(q: np.ndarray, ordered: list[int] | tuple[int, ...]) -> float:
    """Probability that runners `ordered` fill the first places in this order (Harville)."""
    remaining = 1.0
    prob = 1.0
    for i in ordered:
        prob *= q[i] / max(remaining, 1e-12)
        remaining -= q[i]
    return prob


def dividend_cents(prob: float, takeout: float, minimum: int = 110, step: int = 10) -> int:
    """Pari-mutuel dividend in cents per 1 EUR for a combination the pool rated at `prob`,
    rounded down to `step` cents, never below `minimum` (PMU pays at least 1.10 EUR)."""
    cents = int((1.0 - takeout) / max(prob, 1e-9) * 100.0 + 1e-6)  # 69999.999... is 70000
    return max(minimum, cents - cents % step)
