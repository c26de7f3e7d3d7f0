"""Conditional logit (McFadden): P(i wins race r) = exp(x_i·β) / Σ_{j∈r} exp(x_j·β).

Fitted by maximum likelihood with L-BFGS on the per-race softmax, vectorised over races with
np.add.reduceat. No intercept: a constant cancels within a race."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from ml.groups import log_softmax_by_race, per_row, race_sum


def _neg_log_likelihood(beta, X, target, starts, race_total, n_races, l2):
    log_p = log_softmax_by_race(X @ beta, starts)
    nll = -(target @ log_p) / n_races + 0.5 * l2 * (beta @ beta)
    # d/dβ of -Σ t_i log p_i = -Xᵀ(t - p·T_r), with T_r the race's target total (1, or 0 if no winner)
    grad = -(X.T @ (target - np.exp(log_p) * race_total)) / n_races + l2 * beta
    return nll, grad


class ConditionalLogit:
    """`fit(X, target, starts)`: X (n, k), target a distribution per race (see groups.win_targets),
    rows grouped by race. `l2` is a ridge penalty on β per race (0 = plain maximum likelihood)."""

    def __init__(self, l2: float = 0.0):
        self.l2 = float(l2)
        self.coef_: np.ndarray | None = None

    def fit(self, X, target, starts) -> ConditionalLogit:
        X = np.asarray(X, dtype=float)
        target = np.asarray(target, dtype=float)
        if X.ndim != 2 or len(X) != len(target):
            raise ValueError("X must be (n_rows, n_features) aligned with target")
        if not np.isfinite(X).all():
            raise ValueError("X holds NaN or infinite values: impute before fitting")
        race_total = per_row(race_sum(target, starts), starts, len(target))
        n_races = max(int((race_sum(target, starts) > 0).sum()), 1)
        result = minimize(
            _neg_log_likelihood,
            np.zeros(X.shape[1]),
            jac=True,
            method="L-BFGS-B",
            args=(X, target, starts, race_total, n_races, self.l2),
            options={"maxiter": 500},
        )
        self.coef_ = result.x
        self.converged_ = bool(result.success)
        return self

    def log_proba(self, X, starts) -> np.ndarray:
        if self.coef_ is None:
            raise RuntimeError("ConditionalLogit is not fitted")
        return log_softmax_by_race(np.asarray(X, dtype=float) @ self.coef_, starts)

    def predict_proba(self, X, starts) -> np.ndarray:
        return np.exp(self.log_proba(X, starts))
