"""Win models: stage 1 scores runners from the features (LightGBM or a conditional logit), a
temperature turns scores into probabilities within each race, and stage 2 combines the model with
the market at the same cut-off: p ∝ exp(α·log p_model + β·log p_market) (Benter 1994).

Temperature and stage 2 are fitted on stage-1 scores of races stage 1 was not fitted on, so that
they see how the model does out of sample. Three ways to get those scores (`calibration`):
- "ensemble" (default): a cross-fit ensemble. `n_folds` (2) stage-1 models, each fitted on all
  the training days but one fold of them (folds of whole days) and stopped early on that fold;
  their scores on the fold each left out fit the calibration, and the model predicts with the
  mean of their scores. Every race is learnt from and calibrated on, and no model is fitted twice:
  with two folds a fit costs about one `lgb.train` on the whole window.
- "cross_fit": the out-of-fold scores of `n_folds` (5) GroupKFold folds by race, which also choose
  LightGBM's number of rounds; stage 1 is then refitted on every race: n_folds + 1 fits.
- "holdout": the latest `holdout_share` of the training window's races are held out; stage 1 is
  fitted once on the earlier races (early stopping on the latest), at the price of never learning
  from the latest races.
The LightGBM matrix (raw and race-relative features) is built and binned once per fit; every
stage-1 model trains on row subsets of that one binned Dataset."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from ml.condlogit import ConditionalLogit
from ml.frames import feature_columns, has_market, prepare
from ml.groups import log_softmax_by_race, race_starts, win_targets
from ml.metrics import per_race_nll, pseudo_r2
from ml.splits import day_folds, latest_races_split, race_folds

KINDS = ("lgbm", "condlogit")
CALIBRATIONS = ("ensemble", "cross_fit", "holdout")
# folds of stage 1 per calibration (holdout fits once)
DEFAULT_FOLDS = {"ensemble": 2, "cross_fit": 5, "holdout": 1}
DEFAULT_LGBM_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 200,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 1,  # OpenMP threads spin when the cores are shared: one is faster there
    "deterministic": True,
    "force_row_wise": True,
}

# Fields known only after the race (../shared/pmu/README.md): a feature named after one of them (f_<name>...)
# is refused whatever its table says. The feature marts' leakage tests check the values themselves.
POST_RACE_FIELDS = (
    "finish_place",
    "is_winner",
    "won",
    "final_odds",
    "ordre_arrivee",
    "temps_obtenu",
    "reduction_km_race",
    "incident",
    "commentaire_apres_course",
    "duree_course",
    "rapport",
    "dividend",
    "is_placed",
    "result",
)


def feature_hash(features: list[str]) -> str:
    return hashlib.sha256(json.dumps(sorted(features)).encode()).hexdigest()[:16]


def check_pre_race_names(features: list[str]) -> None:
    """Refuse features whose name says they are known only after the race."""
    leaky = [f for f in features if f.lower().removeprefix("f_").startswith(POST_RACE_FIELDS)]
    if leaky:
        raise ValueError(f"post-race columns cannot be pre-race features: {leaky}")


def relative_features(df: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Each feature as raw value, difference to the race mean and percentile rank in the race: a
    binary tree model sees runners one at a time, a race is won against the others."""
    groups = df.groupby("race_id", sort=False)
    cols = {}
    for f in features:
        values = df[f].astype(float)
        cols[f] = values
        cols[f + "__vs_race"] = values - groups[f].transform("mean")
        cols[f + "__rank_race"] = groups[f].rank(pct=True)
    return pd.DataFrame(cols, index=df.index)


def lgbm_matrix(df: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """What LightGBM sees: the features and their race-relative versions, as floats."""
    return relative_features(df, features)


class StepClock:
    """Seconds per named step of a fit (the split of a fold's time the benchmark reports)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(self.seconds.get(step, 0.0) + now - self._last, 3)
        self._last = now


IDENTITY_TAIL = np.array([1.0, 0.0])


def fit_tail(log_p: np.ndarray, target: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Coefficients (c1, c2) of p' ∝ exp(c1·log p + c2·(log p)²) fitted by maximum likelihood on
    calibration races, or the identity (1, 0) unless the term also lowers the log loss of races it
    was not fitted on (two folds of alternate races, each fitted on the other): the calibration
    races already fitted the temperature and the combination, so an in-sample test would keep a
    tail that only fits their noise. c2 < 0 pulls long shots down more than favourites: the
    favourite-longshot bias a single temperature cannot fix."""
    n_races = len(starts)
    if n_races < 20:
        return IDENTITY_TAIL.copy()
    race_of_row = np.repeat(np.arange(n_races), np.diff(np.append(starts, len(log_p))))
    gain = 0.0
    for fold in (0, 1):
        fit_rows, test_rows = race_of_row % 2 != fold, race_of_row % 2 == fold
        coef = _tail_coef(log_p[fit_rows], target[fit_rows], race_starts(race_of_row[fit_rows]))
        test_starts = race_starts(race_of_row[test_rows])
        identity = per_race_nll(np.exp(log_p[test_rows]), target[test_rows], test_starts).sum()
        tailed = np.exp(apply_tail(log_p[test_rows], coef, test_starts))
        gain += identity - per_race_nll(tailed, target[test_rows], test_starts).sum()
    return _tail_coef(log_p, target, starts) if gain > 0 else IDENTITY_TAIL.copy()


def _tail_coef(log_p: np.ndarray, target: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return ConditionalLogit().fit(np.column_stack([log_p, log_p**2]), target, starts).coef_


def apply_tail(log_p: np.ndarray, coef: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return log_softmax_by_race(coef[0] * log_p + coef[1] * log_p**2, starts)


@dataclass
class Standardiser:
    """Median imputation then z-scores, with training statistics."""

    medians: dict[str, float] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)
    scales: dict[str, float] = field(default_factory=dict)

    def fit(self, df: pd.DataFrame, features: list[str]) -> Standardiser:
        for f in features:
            col = df[f].astype(float)
            median = float(col.median()) if col.notna().any() else 0.0
            filled = col.fillna(median)
            self.medians[f] = median
            self.means[f] = float(filled.mean())
            self.scales[f] = float(filled.std()) or 1.0
        return self

    def transform(self, df: pd.DataFrame, features: list[str]) -> np.ndarray:
        cols = [
            (df[f].astype(float).fillna(self.medians[f]) - self.means[f]) / self.scales[f] for f in features
        ]
        return np.column_stack(cols) if cols else np.zeros((len(df), 0))


def choose_baseline_features(df: pd.DataFrame, features: list[str], k: int) -> list[str]:
    """The k features with the best univariate within-race likelihood (a few features, as a
    baseline should have)."""
    starts = race_starts(df["race_id"].to_numpy())
    target = win_targets(df["won"].to_numpy(), starts)
    scaler = Standardiser().fit(df, features)
    scores = {}
    for f in features:
        X = scaler.transform(df, [f])
        model = ConditionalLogit().fit(X, target, starts)
        scores[f] = float(target @ model.log_proba(X, starts))
    return sorted(features, key=lambda f: -scores[f])[:k]


def lgbm_scores(fitted: lgb.Booster | list[lgb.Booster], values: np.ndarray, n_rounds: int | None = None):
    """Raw margin of a booster (its first `n_rounds` trees, or its best iteration when it stopped
    early), or the mean margin of an ensemble's boosters."""
    boosters = fitted if isinstance(fitted, list) else [fitted]
    return np.mean([b.predict(values, raw_score=True, num_iteration=n_rounds) for b in boosters], axis=0)


def booster_file(number: int) -> str:
    return "model.txt" if number == 0 else f"model_{number}.txt"


class WinModel:
    """fit(frame) on a training window; predict(frame) -> p_model, p_market, p_combined per runner.

    kind="lgbm": LightGBM binary on the features (+ race-relative versions), scores normalised per
    race by a softmax with a fitted temperature. kind="condlogit": conditional logit on a few features."""

    def __init__(
        self,
        name: str = "win_lgbm",
        kind: str = "lgbm",
        features: list[str] | None = None,
        *,
        lgbm_params: dict | None = None,
        n_folds: int | None = None,
        calibration: str = "ensemble",
        holdout_share: float = 0.2,
        tail_calibration: bool = False,
        max_rounds: int = 1000,
        early_stopping_rounds: int = 20,
        baseline_k: int = 5,
        l2: float = 1e-3,
        seed: int = 0,
    ):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {CALIBRATIONS}, not {calibration!r}")
        self.name = name
        self.kind = kind
        self.features = list(features) if features else None
        self.lgbm_params = {**DEFAULT_LGBM_PARAMS, **(lgbm_params or {}), "seed": seed}
        self.n_folds = int(n_folds or DEFAULT_FOLDS[calibration])
        if calibration == "ensemble" and self.n_folds < 2:
            raise ValueError("a cross-fit ensemble needs n_folds >= 2")
        self.calibration = calibration
        self.holdout_share = holdout_share
        self.tail_calibration = tail_calibration
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.baseline_k = baseline_k
        self.l2 = l2
        self.seed = seed
        self.boosters: list[lgb.Booster] = []  # one, or the ensemble's n_folds (scores averaged)
        self.n_rounds: int | None = None
        self.scaler: Standardiser | None = None
        self.stage1_coef: np.ndarray | None = None
        self.temperature = 1.0
        self.combiner = np.array([1.0, 0.0])  # (α on log p_model, β on log p_market)
        # tail calibration (fit_tail) of the model alone and of the combination
        self.tail_model = IDENTITY_TAIL.copy()
        self.tail_combined = IDENTITY_TAIL.copy()
        self.training: dict = {}

    # ---- stage 1 -------------------------------------------------------------------------------
    def _lgbm_matrix(self, df: pd.DataFrame) -> pd.DataFrame:
        return lgbm_matrix(df, self.features)

    def _binned(self, df: pd.DataFrame, clock: StepClock) -> tuple[np.ndarray, lgb.Dataset]:
        """The training frame's LightGBM matrix and its Dataset, binned once (bins use no label);
        every stage-1 fit of this window trains on a row subset of it."""
        matrix = self._lgbm_matrix(df)
        values = matrix.to_numpy(dtype=float)
        clock.lap("matrix")
        binned = lgb.Dataset(
            values,
            label=df["won"].to_numpy(),
            feature_name=list(matrix.columns),
            params=self.lgbm_params,
            free_raw_data=False,
        ).construct()
        clock.lap("dataset")
        return values, binned

    def _fit_condlogit(self, df: pd.DataFrame, rows: np.ndarray | None = None):
        part = df if rows is None else df.iloc[rows].reset_index(drop=True)
        scaler = Standardiser().fit(part, self.features)
        starts = race_starts(part["race_id"].to_numpy())
        model = ConditionalLogit(l2=self.l2).fit(
            scaler.transform(part, self.features), win_targets(part["won"].to_numpy(), starts), starts
        )
        return scaler, model.coef_

    def _fit_lgbm(
        self,
        binned: lgb.Dataset,
        rows: np.ndarray | None = None,
        valid: np.ndarray | None = None,
        callbacks: list | None = None,
    ) -> tuple[lgb.Booster, int | None]:
        """Boost on `rows` of the binned window (all of it if None): `self.n_rounds` rounds, or up
        to max_rounds with early stopping on the `valid` rows. Returns (booster, rounds kept)."""
        train_set = binned if rows is None else binned.subset(np.sort(rows))
        if valid is None:
            booster = lgb.train(
                self.lgbm_params, train_set, num_boost_round=self.n_rounds or 100, callbacks=callbacks or []
            )
            return booster, self.n_rounds
        booster = lgb.train(
            self.lgbm_params,
            train_set,
            num_boost_round=self.max_rounds,
            valid_sets=[binned.subset(np.sort(valid))],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False), *(callbacks or [])],
        )
        return booster, max(int(booster.best_iteration or self.max_rounds), 1)

    def _stage1(self) -> list[lgb.Booster] | tuple[Standardiser, np.ndarray]:
        return self.boosters if self.kind == "lgbm" else (self.scaler, self.stage1_coef)

    def _scores(self, fitted, df: pd.DataFrame, n_rounds: int | None = None) -> np.ndarray:
        """Stage-1 log-scores (before temperature): LightGBM's raw margin (the mean of the
        ensemble's) or the logit's x·β. `fitted`: a booster, a list of boosters or (scaler, β)."""
        if self.kind == "condlogit":
            scaler, coef = fitted
            return scaler.transform(df, self.features) @ coef
        return lgbm_scores(fitted, self._lgbm_matrix(df).to_numpy(dtype=float), n_rounds)

    # ---- fit / predict -------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, *, progress: bool = False) -> WinModel:
        """Fit on a training frame. `progress`: a bar on stderr over the n_folds out-of-fold fits
        (and the final one, but for the ensemble) with an ETA, the boosting round of the current
        fit beside it."""
        from ml.progress import bar, lgbm_rounds_callback

        clock = StepClock()
        df = prepare(frame)
        if df.empty:
            raise ValueError("no usable races in the training frame (need ≥2 runners and a winner)")
        available = feature_columns(df)
        if self.features is None:
            self.features = (
                available if self.kind == "lgbm" else choose_baseline_features(df, available, self.baseline_k)
            )
        check_pre_race_names(self.features)
        unknown = sorted(set(self.features) - set(available))
        if unknown:
            raise ValueError(f"features not in the frame: {unknown}")
        if not self.features:
            raise ValueError("no f_* feature columns to train on")
        starts = race_starts(df["race_id"].to_numpy())
        clock.lap("prepare")
        values, binned = self._binned(df, clock) if self.kind == "lgbm" else (None, None)

        def fit_rows(rows, valid, label, fits):
            """Stage 1 on `rows` (early stopping on `valid`), scored on `valid`; (fitted, rounds, scores)."""
            callbacks = [lgbm_rounds_callback(fits, label)] if progress else None
            if self.kind == "condlogit":
                fitted = self._fit_condlogit(df, rows)
                held = None if valid is None else self._scores(fitted, df.iloc[valid].reset_index(drop=True))
                return fitted, None, held
            booster, n_rounds = self._fit_lgbm(binned, rows, valid, callbacks)
            held = None if valid is None else lgbm_scores(booster, values[valid], n_rounds)
            return booster, n_rounds, held

        if self.calibration == "holdout":
            fits = bar(1, f"train {self.name}", enabled=progress, unit="fit")
            earlier, latest = latest_races_split(df["race_id"].to_numpy(), self.holdout_share)
            fitted, self.n_rounds, scores = fit_rows(earlier, latest, "holdout fit", fits)
            fits.update(1)
            calibration_df = df.iloc[latest].reset_index(drop=True)
            stage1 = [fitted] if self.kind == "lgbm" else fitted
            n_fits = 1
        else:
            # Out-of-fold scores on every race: the ensemble's folds are whole days (its members
            # are the model), cross_fit's are races (they only tune rounds and the calibration).
            ensemble = self.calibration == "ensemble"
            ids = df["race_id"].to_numpy()
            folds = (
                day_folds(df["race_date"].to_numpy(), ids, self.n_folds)
                if ensemble
                else race_folds(ids, self.n_folds)
            )
            refit = not (ensemble and self.kind == "lgbm")  # a conditional logit is cheap to refit
            scores = np.zeros(len(df))
            members, rounds = [], []
            fits = bar(len(folds) + refit, f"train {self.name}", enabled=progress, unit="fit")
            for number, (fold_rows, held_rows) in enumerate(folds, start=1):
                fitted, n_rounds, scores[held_rows] = fit_rows(
                    fold_rows, held_rows, f"fold {number}/{len(folds)}", fits
                )
                members.append(fitted)
                rounds.append(n_rounds)
                fits.update(1)
            if self.kind == "lgbm":
                self.n_rounds = int(np.mean(rounds))
            calibration_df = df
            if refit:
                fitted, _, _ = fit_rows(None, None, "final fit", fits)
                fits.update(1)
            stage1 = members if not refit else [fitted] if self.kind == "lgbm" else fitted
            n_fits = len(folds) + refit
        clock.lap("stage1")
        fits.close()
        # The temperature and the market combination, on the races stage 1 did not see.
        cal_starts = race_starts(calibration_df["race_id"].to_numpy())
        cal_target = win_targets(calibration_df["won"].to_numpy(), cal_starts)
        self.temperature = float(ConditionalLogit().fit(scores[:, None], cal_target, cal_starts).coef_[0])
        log_p_model = log_softmax_by_race(self.temperature * scores, cal_starts)
        self.combiner = self._fit_combiner(calibration_df, log_p_model, cal_target)
        if self.tail_calibration:
            self.tail_model = fit_tail(log_p_model, cal_target, cal_starts)
            self.tail_combined = self._fit_combined_tail(calibration_df, log_p_model, cal_target)

        if self.kind == "lgbm":
            self.boosters = stage1
        else:
            self.scaler, self.stage1_coef = stage1
        clock.lap("calibration")
        dates = df["race_date"]
        self.training = {
            "start": str(min(dates)),
            "end": str(max(dates)),
            "races": int(len(starts)),
            "runners": int(len(df)),
            "calibration": self.calibration,
            "calibration_races": int(len(cal_starts)),
            "stage1_fits": n_fits,
            "n_rounds": self.n_rounds,
            # where the fit's time went: prepare, matrix, dataset (binning), stage1, calibration
            "seconds": clock.seconds,
            # stage 1 on the races it was not fitted on (the calibration races)
            "oof_pseudo_r2_model": pseudo_r2(np.exp(log_p_model), cal_target, cal_starts),
        }
        return self

    def _fit_combiner(self, df: pd.DataFrame, log_p_model: np.ndarray, target: np.ndarray) -> np.ndarray:
        keep = self._priced_races(df)
        if not keep.any():
            return np.array([1.0, 0.0])
        sub = df.loc[keep]
        starts = race_starts(sub["race_id"].to_numpy())
        X = np.column_stack([log_p_model[keep], np.log(sub["mkt_prob"].to_numpy())])
        return ConditionalLogit().fit(X, target[keep], starts).coef_

    def _fit_combined_tail(self, df: pd.DataFrame, log_p_model: np.ndarray, target: np.ndarray) -> np.ndarray:
        keep = self._priced_races(df)
        if not keep.any():
            return IDENTITY_TAIL.copy()
        sub = df.loc[keep]
        starts = race_starts(sub["race_id"].to_numpy())
        alpha, beta = self.combiner
        score = alpha * log_p_model[keep] + beta * np.log(sub["mkt_prob"].to_numpy())
        return fit_tail(log_softmax_by_race(score, starts), target[keep], starts)

    @staticmethod
    def _priced_races(df: pd.DataFrame) -> np.ndarray:
        """Rows of races whose whole field has a market probability (partly priced fields are
        filled by frames.market_distribution)."""
        return pd.Series(has_market(df)).groupby(df["race_id"].to_numpy()).transform("all").to_numpy()

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Probabilities per runner (frame rows need not have outcomes). Returns a frame sorted by
        race with race_id, num_pmu, p_model, p_market, p_combined (+ won/target if present)."""
        if not self.boosters and self.stage1_coef is None:
            raise RuntimeError("model is not fitted")
        df = prepare(frame, require_outcome="won" in frame.columns)
        missing = sorted(set(self.features) - set(df.columns))
        if missing:
            raise ValueError(f"frame lacks the model's features {missing}")
        starts = race_starts(df["race_id"].to_numpy())
        raw_log_p_model = log_softmax_by_race(self.temperature * self._scores(self._stage1(), df), starts)
        log_p_model = apply_tail(raw_log_p_model, self.tail_model, starts)
        # A race without a market price anywhere keeps the model alone.
        combined = log_p_model.copy()
        priced = self._priced_races(df)
        if priced.any():
            sub_starts = race_starts(df["race_id"].to_numpy()[priced])
            alpha, beta = self.combiner
            log_p_market = np.log(df["mkt_prob"].to_numpy(dtype=float)[priced])
            score = log_softmax_by_race(alpha * raw_log_p_model[priced] + beta * log_p_market, sub_starts)
            combined[priced] = apply_tail(score, self.tail_combined, sub_starts)
        out = df.drop(columns=[c for c in df.columns if c.startswith("f_")])
        out["p_model"] = np.exp(log_p_model)
        out["p_market"] = df["mkt_prob"].to_numpy(dtype=float)
        out["p_combined"] = np.exp(combined)
        if "won" in out.columns:
            out["target"] = win_targets(out["won"].to_numpy(), starts)
        return out

    def feature_importance(self) -> dict[str, float]:
        """Gain per input feature (LightGBM: summed over its raw and race-relative versions), or |β|
        on standardised features for the conditional logit."""
        if self.kind == "condlogit":
            return {f: float(abs(c)) for f, c in zip(self.features, self.stage1_coef, strict=True)}
        totals: dict[str, float] = {f: 0.0 for f in self.features}
        for booster in self.boosters:
            gains = booster.feature_importance(importance_type="gain") / len(self.boosters)
            for name, gain in zip(booster.feature_name(), gains, strict=True):
                totals[name.split("__")[0]] += float(gain)
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    # ---- persistence ---------------------------------------------------------------------------
    def params(self) -> dict:
        return {
            "kind": self.kind,
            "lgbm_params": self.lgbm_params,
            "n_folds": self.n_folds,
            "calibration": self.calibration,
            "holdout_share": self.holdout_share,
            "tail_calibration": self.tail_calibration,
            "max_rounds": self.max_rounds,
            "early_stopping_rounds": self.early_stopping_rounds,
            "n_rounds": self.n_rounds,
            "boosters": len(self.boosters),
            "baseline_k": self.baseline_k,
            "l2": self.l2,
            "seed": self.seed,
        }

    def save(self, folder: Path) -> Path:
        """Write model.txt (LightGBM text model; an ensemble's further members model_1.txt, ...) or
        stage1.json, calibrator.json, manifest.json."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.kind == "lgbm":
            for number, booster in enumerate(self.boosters):
                booster.save_model(str(folder / booster_file(number)))
        else:
            (folder / "stage1.json").write_text(
                json.dumps(
                    {
                        "coef": self.stage1_coef.tolist(),
                        "medians": self.scaler.medians,
                        "means": self.scaler.means,
                        "scales": self.scaler.scales,
                    },
                    indent=2,
                )
            )
        (folder / "calibrator.json").write_text(
            json.dumps(
                {
                    "temperature": self.temperature,
                    "combiner": {
                        "log_p_model": float(self.combiner[0]),
                        "log_p_market": float(self.combiner[1]),
                    },
                    "tail": {"model": self.tail_model.tolist(), "combined": self.tail_combined.tolist()},
                },
                indent=2,
            )
        )
        manifest = {
            "name": self.name,
            "kind": self.kind,
            "features": self.features,
            "feature_hash": feature_hash(self.features),
            "params": self.params(),
            "training": self.training,
            "saved_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return folder

    @classmethod
    def load(cls, folder: Path) -> WinModel:
        folder = Path(folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        params = manifest["params"]
        model = cls(
            manifest["name"],
            params["kind"],
            manifest["features"],
            lgbm_params=params["lgbm_params"],
            n_folds=params["n_folds"],
            # models saved before the holdout calibration were cross-fitted
            calibration=params.get("calibration", "cross_fit"),
            holdout_share=params.get("holdout_share", 0.2),
            tail_calibration=params.get("tail_calibration", False),
            max_rounds=params["max_rounds"],
            early_stopping_rounds=params["early_stopping_rounds"],
            baseline_k=params["baseline_k"],
            l2=params["l2"],
            seed=params["seed"],
        )
        model.n_rounds = params["n_rounds"]
        model.training = manifest["training"]
        if model.kind == "lgbm":
            model.boosters = [
                lgb.Booster(model_file=str(folder / booster_file(number)))
                for number in range(params.get("boosters", 1))  # one before the ensemble
            ]
        else:
            stage1 = json.loads((folder / "stage1.json").read_text())
            model.stage1_coef = np.array(stage1["coef"])
            model.scaler = Standardiser(stage1["medians"], stage1["means"], stage1["scales"])
        calibrator = json.loads((folder / "calibrator.json").read_text())
        model.temperature = calibrator["temperature"]
        model.combiner = np.array(
            [calibrator["combiner"]["log_p_model"], calibrator["combiner"]["log_p_market"]]
        )
        tail = calibrator.get("tail", {})  # models saved before the tail calibration have none
        model.tail_model = np.array(tail.get("model", IDENTITY_TAIL))
        model.tail_combined = np.array(tail.get("combined", IDENTITY_TAIL))
        return model
