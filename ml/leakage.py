"""Point-in-time check on feature frames: the features of a day built when only its morning snapshot
had landed must equal those built after its final snapshot (results, final odds, updated careers)
landed too. A column that changes carries post-race information."""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY = ["race_id", "num_pmu"]


def leaky_features(
    before: pd.DataFrame, after: pd.DataFrame, features: list[str] | None = None, *, rtol: float = 1e-9
) -> list[str]:
    """Feature columns whose value differs, for any runner present in both frames, between a build
    before the race (`before`) and one after its results landed (`after`). NaN equals NaN."""
    features = features or sorted(c for c in before.columns if c.startswith("f_"))
    missing = [f for f in features if f not in after.columns]
    if missing:
        raise ValueError(f"columns missing from the later build: {missing}")
    both = before[KEY + features].merge(after[KEY + features], on=KEY, suffixes=("_before", "_after"))
    if both.empty:
        raise ValueError("no runner in common between the two builds")
    leaky = []
    for f in features:
        a = pd.to_numeric(both[f + "_before"], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(both[f + "_after"], errors="coerce").to_numpy(dtype=float)
        same = np.isclose(a, b, rtol=rtol, atol=0.0) | (np.isnan(a) & np.isnan(b))
        if not same.all():
            leaky.append(f)
    return leaky
