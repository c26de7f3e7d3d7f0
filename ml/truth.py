"""True win probabilities written beside synthetic days (`DIR/truth/DDMMYYYY.csv`: race key, numPmu,
probability). Column names are matched loosely (race/course, numPmu, prob) and the race key is read
as '...R{n}...C{n}...' with the date taken from the file name, giving the warehouse's race_id."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from pmu_core.facts import race_id

_RACE_KEY = re.compile(r"R(\d+)\D*C(\d+)", re.IGNORECASE)


def _column(columns, *needles: str) -> str:
    for needle in needles:
        for col in columns:
            if needle in col.lower():
                return col
    raise ValueError(f"no column like {needles} in {list(columns)}")


def race_id_from_key(key: str, day: dt.date) -> str:
    match = _RACE_KEY.search(str(key))
    if not match:
        raise ValueError(f"race key {key!r} has no R<n>C<n>")
    return race_id(day, int(match.group(1)), int(match.group(2)))


def load_truth(folder: Path, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """race_id, num_pmu, p_truth for every truth file in folder (within start..end if given)."""
    parts = []
    for path in sorted(Path(folder).glob("*.csv")):
        day = dt.datetime.strptime(path.stem, "%d%m%Y").date()
        if (start and day < start) or (end and day > end):
            continue
        raw = pd.read_csv(path)
        race_col = _column(raw.columns, "race", "course", "key")
        num_col = _column(raw.columns, "numpmu", "num_pmu", "num")
        prob_col = _column(raw.columns, "prob", "p_true", "truth")
        parts.append(
            pd.DataFrame(
                {
                    "race_id": [race_id_from_key(k, day) for k in raw[race_col]],
                    "num_pmu": raw[num_col].astype(int),
                    "p_truth": raw[prob_col].astype(float),
                }
            )
        )
    if not parts:
        raise FileNotFoundError(f"no truth files in {folder}")
    return pd.concat(parts, ignore_index=True)


def attach_truth(df: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Add p_truth renormalised over the runners present (non-runners are dropped from frames)."""
    out = df.merge(truth, on=["race_id", "num_pmu"], how="left")
    out["p_truth"] = out["p_truth"] / out.groupby("race_id")["p_truth"].transform("sum")
    return out
