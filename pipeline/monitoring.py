"""Watch a model in production: the population stability of its features and probabilities on
scored days against its training window (ml/drift.py), stored in modeling.feature_drift
(`pmu drift`, the Dagster `modeling/feature_drift` asset and its check)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

PREDICTION_COLUMN = "p_model"  # the model's own probabilities, before the market combination


def drift(db_url: str, days: Sequence[dt.date], *, model_ref: str | None = None) -> dict:
    """PSI of each of the model's features and of its probabilities, each day of `days` against
    the model's training window; days with no runner to score are skipped. Returns model,
    model_id, `per_day` {date: table (worst first)} and `skipped` days. Raises LookupError when
    there is no such model, ml.dataset.MissingMartError without the feature marts."""
    import pandas as pd

    from ml import registry
    from ml.dataset import load_dataset, load_scoring_frame
    from ml.drift import drift_table, worst_first, write_drift
    from pipeline.modeling import Recipe

    registry.ensure_tables(db_url)
    record, model = registry.load_model(db_url, model_ref)
    reference = load_dataset(db_url, record.train_start, record.train_end, cutoff=Recipe.of(record).cutoff)
    reference_predictions = model.predict(reference.drop(columns=["won"]))
    per_day, skipped = {}, []
    for day in days:
        current = load_scoring_frame(db_url, day)
        if current.empty:
            skipped.append(day)
            continue
        # predict() returns its own row order: the probabilities are compared as their own frames
        table = worst_first(
            pd.concat(
                [
                    drift_table(reference, current, model.features),
                    drift_table(reference_predictions, model.predict(current), [PREDICTION_COLUMN]),
                ],
                ignore_index=True,
            )
        )
        write_drift(db_url, record.id, day, table)
        per_day[day] = table
    return {"model": record.label, "model_id": record.id, "per_day": per_day, "skipped": skipped}
