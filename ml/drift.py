"""Population stability of the model's inputs and outputs: a day's distribution of each feature
(and of the model's probabilities) against the training window's.

PSI = Σ_b (a_b − e_b) · ln(a_b / e_b) over bins b, with e the training window's share and a the
day's. Bins are the training window's quantiles, so each holds about the same share of it, plus one
bin for missing values: a field the API stops filling moves its whole mass there and shows up as a
large PSI rather than vanishing from the comparison. Empty bins get a small floor share so the
logarithm stays finite (the usual convention).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pmu_core.facts import PSI_BINS, PSI_WARN

SHARE_FLOOR = 1e-4


def bin_edges(reference: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """The interior edges of `bins` quantile bins of the reference's non-missing values; ties
    collapse, so a binary feature gets one bin per value."""
    values = np.asarray(reference, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.array([])
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of `values` in the bins [−∞, e0), [e0, e1), …, [e_last, ∞) and, last, missing."""
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    counts = np.append(counts, missing.sum()).astype(float)
    return counts / max(len(values), 1)


def psi_of_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(np.asarray(expected, dtype=float), SHARE_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), SHARE_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI of `current` against `reference` on the reference's quantile bins (+ a missing bin)."""
    edges = bin_edges(reference, bins)
    return psi_of_shares(bin_shares(reference, edges), bin_shares(current, edges))


def drift_table(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], bins: int = PSI_BINS
) -> pd.DataFrame:
    """One row per column, worst first: psi, the missing share in each frame, runners compared,
    and `drifted` (psi above PSI_WARN). A column absent from a frame counts as all missing."""

    def column(frame: pd.DataFrame, name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)

    rows = []
    for name in columns:
        ref, cur = column(reference, name), column(current, name)
        rows.append(
            {
                "feature": name,
                "psi": psi(ref, cur, bins),
                "reference_missing": float(np.isnan(ref).mean()) if ref.size else 0.0,
                "current_missing": float(np.isnan(cur).mean()) if cur.size else 0.0,
                "reference_runners": int(ref.size),
                "current_runners": int(cur.size),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "feature",
            "psi",
            "reference_missing",
            "current_missing",
            "reference_runners",
            "current_runners",
        ],
    )
    table["drifted"] = table["psi"] > PSI_WARN
    return worst_first(table)


def worst_first(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(["psi", "feature"], ascending=[False, True], ignore_index=True)


# --- the stored table (modeling.feature_drift, DDL in ml/schema.sql) ---------------------------------

_DRIFT_COLUMNS = (
    "feature",
    "psi",
    "reference_missing",
    "current_missing",
    "reference_runners",
    "current_runners",
    "drifted",
)


def write_drift(db_url: str | None, model_id: int, day, table: pd.DataFrame) -> int:
    """Replace the model's rows of `day` with `table` (rerun-safe)."""
    from pmu_core import db

    rows = [
        (model_id, day, r.feature, float(r.psi), float(r.reference_missing), float(r.current_missing))
        + (int(r.reference_runners), int(r.current_runners), bool(r.drifted))
        for r in table.itertuples(index=False)
    ]
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "delete from modeling.feature_drift where model_id = %s and race_date = %s", (model_id, day)
        )
        cur.executemany(
            "insert into modeling.feature_drift (model_id, race_date, feature, psi, reference_missing,"
            " current_missing, reference_runners, current_runners, drifted)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)


def read_drift(db_url: str | None, model_id: int, days: list) -> pd.DataFrame:
    """The stored rows of the days, worst first, with race_date."""
    from pmu_core import db

    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select race_date, " + ", ".join(_DRIFT_COLUMNS) + " from modeling.feature_drift"
            " where model_id = %s and race_date = any(%s) order by psi desc, race_date, feature",
            (model_id, list(days)),
        )
        return pd.DataFrame(cur.fetchall(), columns=["race_date", *_DRIFT_COLUMNS])
