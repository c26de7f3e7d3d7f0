"""Drift watch: the PSI maths by hand, then a day whose features moved (one shifted, one gone
empty) seen by `pipeline.monitoring.drift`, stored in modeling.feature_drift, warned by the
Dagster check, and shown by `pmu drift`."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys

import dagster as dg
import numpy as np
import psycopg2
import pytest
from test_ml_registry import START, marts  # noqa: F401  (the contract-marts fixture)

from ml import registry
from ml.dataset import load_dataset
from ml.drift import bin_edges, bin_shares, psi, psi_of_shares
from ml.models import WinModel
from orchestration.drift_assets import feature_drift
from orchestration.resources import PostgresResource
from pipeline.monitoring import drift
from pmu_core.facts import PSI_WARN

DAY = START + dt.timedelta(days=20)


def test_psi_of_two_bins_by_hand():
    # (0.9 - 0.5)·ln(0.9/0.5) + (0.1 - 0.5)·ln(0.1/0.5)
    expected = 0.4 * math.log(1.8) + (-0.4) * math.log(0.2)
    assert psi_of_shares([0.5, 0.5], [0.9, 0.1]) == pytest.approx(expected)
    assert psi_of_shares([0.5, 0.5], [0.5, 0.5]) == 0.0


def test_bins_are_reference_quantiles_with_a_missing_bin():
    reference = np.array([0.0, 0.0, 0.0, 1.0, 1.0, np.nan])
    edges = bin_edges(reference, bins=4)
    assert edges.tolist() == [0.0, 1.0]  # ties collapse: a binary feature gets a bin per value
    # bins: below 0, [0, 1), from 1, missing
    np.testing.assert_allclose(bin_shares(reference, edges), [0, 3 / 6, 2 / 6, 1 / 6])
    np.testing.assert_allclose(bin_shares(np.array([-5.0, 0.5, 7.0, np.nan]), edges), [0.25] * 4)


def test_a_field_gone_empty_is_a_large_psi_and_an_unchanged_one_none():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=5000)
    assert psi(reference, reference) == 0.0
    assert psi(reference, rng.normal(size=5000)) < 0.02
    # ten reference bins of 10% each, all empty on the day (floored at 1e-4), the missing bin full
    floor = 1e-4
    by_hand = 10 * (floor - 0.1) * math.log(floor / 0.1) + (1 - floor) * math.log(1 / floor)
    assert psi(reference, np.full(300, np.nan)) == pytest.approx(by_hand)
    assert psi(reference, rng.normal(loc=1.0, size=5000)) > PSI_WARN  # a one-sd shift


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def test_a_moved_day_is_seen_stored_warned_and_printed(db_url, marts):  # noqa: F811
    frame = load_dataset(db_url, START, START + dt.timedelta(days=17))
    model = WinModel(name="win", kind="condlogit", features=["f_x0", "f_x1", "f_x2", "f_noise0"], n_folds=3)
    record = registry.register(db_url, model.fit(frame))
    registry.promote(db_url, record.label)

    before = drift(db_url, [DAY])["per_day"][DAY].set_index("feature")
    assert set(before.index) == {"f_x0", "f_x1", "f_x2", "f_noise0", "p_model"}
    assert not before["drifted"].any(), before  # a day of the same world: stable
    assert (before["reference_runners"] == len(frame)).all()

    # the day's f_x0 moves by two standard deviations and f_noise0 stops being filled
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "update marts.feat_runner_pre_race set f_x0 = f_x0 + 2, f_noise0 = null where race_date = %s",
            (DAY,),
        )
    after = drift(db_url, [DAY])["per_day"][DAY].set_index("feature")
    assert after.loc["f_x0", "psi"] > PSI_WARN and after.loc["f_noise0", "psi"] > PSI_WARN
    assert after.loc["f_noise0", "current_missing"] == 1.0
    assert after.loc[["f_x0", "f_noise0"], "drifted"].all()
    # the other features did not move, so their PSI is the same number as before
    np.testing.assert_allclose(after.loc[["f_x1", "f_x2"], "psi"], before.loc[["f_x1", "f_x2"], "psi"])
    # and the stored table is what the second run found (rerun-safe: one row per feature)
    stored = dict(
        _rows(db_url, "select feature, psi from modeling.feature_drift where race_date = %s", (DAY,))
    )
    assert stored == pytest.approx(after["psi"].to_dict())

    result = dg.materialize(
        [feature_drift], partition_key=DAY.isoformat(), resources={"postgres": PostgresResource(url=db_url)}
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert set(check.metadata["drifted_features"].value) >= {"f_x0", "f_noise0"}
    assert "f_x0" in check.metadata["worst"].value

    printed = subprocess.run(
        [sys.executable, "-m", "pmu_cli.main", "drift", "--date", DAY.isoformat()],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert printed.returncode == 0, printed.stderr
    assert f"{DAY}: DRIFT in " in printed.stdout and "f_x0" in printed.stdout
    nothing = subprocess.run(
        [sys.executable, "-m", "pmu_cli.main", "drift", "--date", "1999-01-01"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert nothing.returncode == 2 and f"holds 24 days, {START}.." in nothing.stderr
