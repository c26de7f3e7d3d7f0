"""Per-runner explanations of a win model's stage 1: each input feature's contribution to the runner's
log-score in its race's softmax (stage-1 score × temperature), so contributions add up, with the
bias, to what ranks the runner against its field before the market is combined in.

LightGBM: `predict(..., pred_contrib=True)` (SHAP values of the raw margin), summed over a feature's
raw and race-relative columns (averaged over an ensemble's members, as their margins are).
Conditional logit: the terms β_k·z_k of its linear score."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.frames import prepare
from ml.models import WinModel

TOP_CONTRIBUTIONS = 5


def contribution_matrix(model: WinModel, df: pd.DataFrame) -> np.ndarray:
    """(runners, features) contributions for a prepared frame, in model.features order."""
    if model.kind == "condlogit":
        return model.scaler.transform(df, model.features) * model.stage1_coef * model.temperature
    matrix = model._lgbm_matrix(df).to_numpy(dtype=float)
    index = {f: i for i, f in enumerate(model.features)}
    out = np.zeros((len(df), len(model.features)))
    for booster in model.boosters:  # an ensemble scores with its members' mean margin
        raw = booster.predict(matrix, pred_contrib=True)
        for j, name in enumerate(booster.feature_name()):
            out[:, index[name.split("__")[0]]] += raw[:, j] / len(model.boosters)
    return out * model.temperature


def top_contributions(
    values: np.ndarray, contributions: np.ndarray, features: list[str], top: int = TOP_CONTRIBUTIONS
) -> list[dict]:
    """The `top` features of one runner by absolute contribution, largest first, with their values."""
    order = np.argsort(-np.abs(contributions), kind="stable")[:top]
    return [
        {
            "feature": features[k],
            "value": float(values[k]) if np.isfinite(values[k]) else None,
            "contribution": round(float(contributions[k]), 6),
        }
        for k in order
    ]


def explain(model: WinModel, frame: pd.DataFrame, top: int = TOP_CONTRIBUTIONS) -> pd.DataFrame:
    """race_id, num_pmu, explanation (list of dicts) for the runners model.predict(frame) returns."""
    df = prepare(frame, require_outcome="won" in frame.columns)
    contributions = contribution_matrix(model, df)
    values = df[model.features].to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "race_id": df["race_id"].to_numpy(),
            "num_pmu": df["num_pmu"].astype(int).to_numpy(),
            "explanation": [
                top_contributions(values[i], contributions[i], model.features, top) for i in range(len(df))
            ],
        }
    )
