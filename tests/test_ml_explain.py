"""Per-runner explanations (ml/explain.py): LightGBM's pred_contrib summed per input feature, and
the conditional logit's terms, both add up to the stage-1 score the model ranks a race with."""

from __future__ import annotations

import numpy as np
import pytest

from ml.explain import contribution_matrix, explain
from ml.frames import prepare
from ml.models import WinModel
from ml.simulate import simulate_races


@pytest.fixture(scope="module")
def frame():
    return simulate_races(8, 20, seed=4)


@pytest.mark.parametrize("kind", ["lgbm", "condlogit"])
def test_contributions_add_up_to_the_stage1_score(frame, kind):
    model = WinModel(kind=kind, n_folds=2, max_rounds=60).fit(frame)
    df = prepare(frame)
    contributions = contribution_matrix(model, df)
    assert contributions.shape == (len(df), len(model.features))
    score = model._scores(model._stage1(), df) * model.temperature
    if kind == "lgbm":
        # SHAP values plus the bias (the same for every runner) give the raw margin
        bias = score - contributions.sum(axis=1)
        np.testing.assert_allclose(bias, bias[0], atol=1e-8)
    else:
        np.testing.assert_allclose(contributions.sum(axis=1), score, atol=1e-10)


def test_explain_gives_the_top_five_per_runner_in_predict_order(frame):
    model = WinModel(kind="lgbm", n_folds=2, max_rounds=60).fit(frame)
    out = explain(model, frame.drop(columns=["won"]))
    preds = model.predict(frame.drop(columns=["won"]))
    assert out[["race_id", "num_pmu"]].values.tolist() == preds[["race_id", "num_pmu"]].values.tolist()
    for terms in out["explanation"].head(50):
        assert len(terms) == 5 and {t["feature"] for t in terms} <= set(model.features)
        sizes = [abs(t["contribution"]) for t in terms]
        assert sizes == sorted(sizes, reverse=True)
