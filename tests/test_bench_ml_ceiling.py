"""The oracle bound of bench/ml_ceiling.py on a small synthetic world: its machinery must give the
truth a gain of 1, and less to oracles that know less."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from dataclasses import replace

import pytest

from pmu_core.settings import PROJECT_ROOT
from synth.world import SynthConfig

# A bench imports its sibling bench/_common.py, found on sys.path as when the bench runs as a script.
_BENCH = str(PROJECT_ROOT / "bench")
sys.path.append(_BENCH)
try:
    ml_ceiling = importlib.import_module("ml_ceiling")
finally:
    sys.path.remove(_BENCH)


@pytest.mark.slow
def test_oracles_rank_by_what_they_know_and_the_truth_closes_the_whole_gap():
    config = replace(SynthConfig(), meetings_per_day=2.0, burn_in_days=60)
    start = dt.date(2023, 1, 2)
    data = ml_ceiling.simulate(config, seed=3, start=start, end=start + dt.timedelta(days=239))
    figures = ml_ceiling.ceiling(data, held_out_days=90)
    gains = {name: o["attainable_gain"] for name, o in figures["oracles"].items()}
    assert figures["truth_r2"] > figures["market_r2"] > 0
    assert 0.95 < gains["truth"] < 1.05
    assert gains["truth"] > gains["all_but_last_form_change"] > gains["all_but_form"] > 0
    assert gains["all_but_form"] > gains["all_but_form_noise_sd_0.2"] > gains["all_but_form_noise_sd_0.4"]
