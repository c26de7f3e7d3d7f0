"""How much of the market-to-truth gap can any model close in the synthetic world? An oracle bound.

bench/ml_eval.py measures the attainable gain (LL_market − LL_combined) / (LL_market − LL_truth). Part of
the truth cannot be known before a race by anyone but the simulated crowd: a horse's form changes
after each run (synth.World.record_day) and that change first shows in the next race's result,
while the market's odds are drawn around the truth, form included. This script replays the very
world bench/ml_eval.py writes (same config, seed and days; the bodies' presentation uses another random
stream, so the races are identical) and gives oracles that know the world's latents exactly, minus:

- `all_but_form`: the horse's current form (ability, age, people, preferences, weights known);
- `all_but_last_form_change`: only the form change since its previous run;
- the same two with Gaussian estimation noise on the oracle's log-strength (sd 0.2 and 0.4), as a
  model that learnt the latents from results would have.

Each oracle is combined with the morning market exactly as the benchmark's model is (conditional
logit on [oracle log-strength, log market probability], fitted on the days before the held-out
window) and scored on the held-out window. Writes bench/results/ml_ceiling.json, one line out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import replace

import _common
import numpy as np

from ml.condlogit import ConditionalLogit
from ml.groups import log_softmax_by_race, race_starts, win_targets
from ml.metrics import attainable_gain, pseudo_r2
from synth.world import SynthConfig, World, days_between

NOISE_SDS = (0.2, 0.4)


class RecordingWorld(World):
    """The world, also noting each runner's form and its last change when its strength is drawn."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.form_at_last_run = np.zeros(self.n_horses)

    def _strengths(self, race, year):
        scores = super()._strengths(race, year)
        h = race.horses
        scale = self.cfg.strength_scale
        previous = np.where(self.n_runs[h] > 0, self.form_at_last_run[h], 0.0)
        race.form_now = self.form[h] * scale
        race.form_change = (self.form[h] - self.cfg.form_persistence * previous) * scale
        race.form_change = np.where(self.n_runs[h] > 0, race.form_change, race.form_now)
        self.form_at_last_run[h] = self.form[h]
        return scores


def simulate(config: SynthConfig, seed: int, start: dt.date, end: dt.date) -> dict[str, np.ndarray]:
    """One row per starter of every race run on start..end with a morning price for every starter:
    race index, day, log-strength, form, form change, morning market probability, won."""
    world = RecordingWorld(config, seed, start - dt.timedelta(days=config.burn_in_days))
    rows: dict[str, list] = {k: [] for k in ("race", "day", "score", "form", "change", "market", "won")}
    race_index = 0
    for day in days_between(world.first_day, end):
        races = world.run_day(day)
        if day >= start:
            for race in races:
                if race.cancelled or not race.order:
                    continue
                starters = np.flatnonzero(~race.non_runner)
                odds = race.odds_morning[starters]
                if len(starters) < 2 or (odds <= 0).any():
                    continue  # a late non-runner unpriced in the morning: the benchmark drops it too
                market = (1.0 / odds) / (1.0 / odds).sum()
                won = np.isin(starters + 1, race.order[0]).astype(float)
                scores = np.log(race.p_true[starters])
                for key, values in (
                    ("score", scores),
                    ("form", race.form_now[starters]),
                    ("change", race.form_change[starters]),
                    ("market", market),
                    ("won", won),
                ):
                    rows[key].append(values)
                rows["race"].append(np.full(len(starters), race_index))
                rows["day"].append(np.full(len(starters), day.toordinal()))
                race_index += 1
        world.record_day(day, races)
    return {k: np.concatenate(v) for k, v in rows.items()}


def oracle_probabilities(
    strength: np.ndarray, data: dict, train: np.ndarray, test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Win probabilities on `test` rows of the strength alone and of its combination with the
    market, each conditional logit (temperature, combination) fitted on `train` rows."""
    fit_starts = race_starts(data["race"][train])
    fit_target = win_targets(data["won"][train], fit_starts)
    test_starts = race_starts(data["race"][test])
    out = []
    for cols in ([strength], [strength, np.log(data["market"])]):
        X = np.column_stack(cols)
        model = ConditionalLogit().fit(X[train], fit_target, fit_starts)
        out.append(np.exp(model.log_proba(X[test], test_starts)))
    return out[0], out[1]


def ceiling(data: dict, held_out_days: int, seed: int = 0) -> dict:
    days = np.unique(data["day"])
    first_test = days[-held_out_days]
    train, test = data["day"] < first_test, data["day"] >= first_test
    starts = race_starts(data["race"][test])
    target = win_targets(data["won"][test], starts)
    p_truth = np.exp(log_softmax_by_race(data["score"][test], starts))
    p_market = data["market"][test]
    rng = np.random.default_rng(seed)
    oracles = {
        "truth": data["score"],  # a check of the machinery: its gain must come out at 1
        "all_but_form": data["score"] - data["form"],
        "all_but_last_form_change": data["score"] - data["change"],
    }
    for name in ("all_but_form", "all_but_last_form_change"):
        for sd in NOISE_SDS:
            oracles[f"{name}_noise_sd_{sd}"] = oracles[name] + rng.normal(0.0, sd, len(data["score"]))
    figures = {
        "held_out_races": int(len(starts)),
        "truth_r2": pseudo_r2(p_truth, target, starts),
        "market_r2": pseudo_r2(p_market, target, starts),
        "oracles": {},
    }
    for name, strength in oracles.items():
        p_alone, p_combined = oracle_probabilities(strength, data, train, test)
        gain = attainable_gain(p_combined, p_market, p_truth, target, starts)
        figures["oracles"][name] = {
            "r2": round(pseudo_r2(p_alone, target, starts), 4),
            "combined_r2": round(pseudo_r2(p_combined, target, starts), 4),
            "attainable_gain": round(gain, 3),
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--meetings", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--held-out-days", type=int, default=180)
    args = parser.parse_args()
    start = dt.date(2022, 1, 3)  # as bench/ml_eval.py
    end = start + dt.timedelta(days=args.days - 1)
    config = replace(SynthConfig(), meetings_per_day=args.meetings)
    started = time.perf_counter()
    data = simulate(config, args.seed, start, end)
    figures = {
        "world": {
            "meetings_per_day": args.meetings,
            "seed": args.seed,
            "days": args.days,
            "form_persistence": config.form_persistence,
            "form_noise": config.form_noise,
            "market_noise_morning": config.market_noise_morning,
        },
        **ceiling(data, args.held_out_days),
        "seconds": round(time.perf_counter() - started, 1),
    }
    bench = _common.results_path("ml")
    if bench.exists():
        measured = json.loads(bench.read_text())["comparison"]["lgbm"]["attainable_gain"]
        best = figures["oracles"]["all_but_form"]["attainable_gain"]
        figures["benchmark_model_gain"] = measured
        figures["benchmark_model_share_of_all_but_form_ceiling"] = round(measured / best, 3)
    o = figures["oracles"]
    _common.write_results(
        "ml_ceiling",
        figures,
        f"ml_ceiling: attainable gain of an oracle knowing every latent but form "
        f"{o['all_but_form']['attainable_gain']} (with noise sd 0.4: "
        f"{o['all_but_form_noise_sd_0.4']['attainable_gain']}), knowing all but the last form change "
        f"{o['all_but_last_form_change']['attainable_gain']} (noise 0.4: "
        f"{o['all_but_last_form_change_noise_sd_0.4']['attainable_gain']}); truth R² "
        f"{figures['truth_r2']:.4f}, market {figures['market_r2']:.4f} on {figures['held_out_races']} "
        f"held-out races; benchmark model {figures.get('benchmark_model_gain')}",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
