"""`pmu train`, `pmu evaluate`, `pmu models list|promote`, `pmu score --date D`, `pmu drift`: the ML
commands."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from pmu_core.facts import DEFAULT_MIN_EDGE


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _add_data_args(parser) -> None:
    parser.add_argument("--start", type=_date, required=True, help="first race date (YYYY-MM-DD)")
    parser.add_argument("--end", type=_date, required=True, help="last race date, inclusive")
    parser.add_argument(
        "--cutoff",
        choices=("mart", "morning"),
        default="mart",
        help="market at the feature mart's cut-off (default) or the morning snapshot",
    )
    parser.add_argument("--name", default=None, help="model name (default win_<kind>)")
    parser.add_argument("--kind", choices=("lgbm", "condlogit"), default="lgbm")
    parser.add_argument("--features", default=None, help="comma-separated f_* columns (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a win model on the feature mart and register it")
    _add_data_args(train)
    train.add_argument("--promote", action="store_true", help="make it the production model of its name")
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser("evaluate", help="walk-forward evaluation with metrics and plots")
    _add_data_args(evaluate)
    evaluate.add_argument("--min-train-days", type=int, default=28, help="race dates before the first test")
    evaluate.add_argument("--test-days", type=int, default=7, help="race dates per walk-forward step")
    evaluate.add_argument(
        "--min-edge", type=float, default=DEFAULT_MIN_EDGE, help="value bet: p·odds - 1 above this"
    )
    evaluate.add_argument("--truth", type=Path, default=None, help="synthetic truth folder (DIR/truth)")
    evaluate.add_argument(
        "--out", type=Path, default=None, help="output folder (default PMU_HOME/evaluations/<name>/<time>)"
    )
    evaluate.add_argument("--model", default=None, help="NAME@VERSION: store the metrics on that model")
    evaluate.set_defaults(func=run_evaluate)

    models = subparsers.add_parser("models", help="the model registry")
    sub = models.add_subparsers(dest="models_command", required=True)
    listing = sub.add_parser("list", help="registered models")
    listing.add_argument("--name", default=None)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_models_list)
    promote = sub.add_parser("promote", help="make NAME@VERSION the production model of NAME")
    promote.add_argument("ref", help="NAME@VERSION")
    promote.set_defaults(func=run_models_promote)

    score = subparsers.add_parser("score", help="score a day into modeling.predictions")
    score.add_argument("--date", type=_date, required=True)
    score.add_argument("--model", default=None, help="NAME@VERSION or NAME (default: the production model)")
    score.set_defaults(func=run_score)

    drift = subparsers.add_parser(
        "drift", help="population stability of the model's features on scored days vs its training window"
    )
    drift.add_argument("--date", type=_date, required=True, help="first race date")
    drift.add_argument("--end", type=_date, default=None, help="last race date, inclusive (default --date)")
    drift.add_argument("--model", default=None, help="NAME@VERSION or NAME (default: the production model)")
    drift.add_argument("--top", type=int, default=10, help="columns shown per day, worst first")
    drift.set_defaults(func=run_drift)


def _recipe(args):
    from pipeline.modeling import Recipe

    features = tuple(f.strip() for f in args.features.split(",")) if args.features else None
    return Recipe(kind=args.kind, name=args.name, features=features, cutoff=args.cutoff, seed=args.seed)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_train(args) -> int:
    from ml.dataset import MissingMartError
    from pipeline.modeling import train
    from pmu_core import db

    try:
        trained = train(
            db.ensure_database(),
            args.start,
            args.end,
            _recipe(args),
            promote=args.promote,
            progress=not args.no_progress,
        )
    except MissingMartError as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"{exc}; {_held_days(db.ensure_database())}")
    record, model = trained.record, trained.model
    print(
        f"registered {record.label} ({record.status}): {model.training['races']} races "
        f"{model.training['start']}..{model.training['end']}, {len(model.features)} features, "
        f"out-of-fold pseudo-R² {model.training['oof_pseudo_r2_model']:.4f}, artifacts {record.artifact_path}"
    )
    return 0


def run_evaluate(args) -> int:
    from ml.dataset import MissingMartError
    from ml.evaluate import one_line
    from pipeline.modeling import EvaluationSettings, evaluate
    from pmu_core import db

    settings = EvaluationSettings(
        min_train_days=args.min_train_days,
        test_days=args.test_days,
        min_edge=args.min_edge,
        truth_dir=args.truth,
    )
    try:
        result, out = evaluate(
            db.ensure_database(),
            args.start,
            args.end,
            _recipe(args),
            settings=settings,
            out=args.out,
            store_on=args.model,
            log=None if not args.no_progress else lambda m: print(m, file=sys.stderr),
            progress=not args.no_progress,
        )
    except (MissingMartError, FileNotFoundError, LookupError) as exc:
        return _fail(str(exc))
    except ValueError as exc:
        return _fail(f"{exc}; {_held_days(db.ensure_database())}")
    print(one_line(result))
    print(f"metrics and plots in {out}")
    return 0


def evaluation_summary(metrics: dict) -> dict:
    """The headline figures of a model's stored walk-forward evaluation (empty when it has none)."""
    evaluation = (metrics or {}).get("evaluation") or {}
    if not evaluation:
        return {}
    folds = evaluation.get("folds") or []
    value_bets = evaluation.get("value_bets") or {}
    return {
        "races": evaluation.get("races"),
        "window": f"{folds[0]['test_start']}..{folds[-1]['test_end']}" if folds else None,
        "r2_model": (evaluation.get("model") or {}).get("pseudo_r2"),
        "r2_combined": (evaluation.get("combined") or {}).get("pseudo_r2"),
        "delta_r2": (evaluation.get("delta_r2_combined_vs_market") or {}).get("value"),
        "roi": value_bets.get("roi"),
        "bets": value_bets.get("bets"),
    }


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def run_models_list(args) -> int:
    from ml import registry
    from pmu_core import db

    records = registry.list_models(db.ensure_database(), args.name)
    if args.json:
        print(
            json.dumps(
                [r.__dict__ | {"evaluation_summary": evaluation_summary(r.metrics)} for r in records],
                default=str,
                indent=2,
            )
        )
        return 0
    if not records:
        print("no models registered (pmu train --start D1 --end D2)")
        return 0
    print(
        f"{'id':>4}  {'model':<24} {'kind':<9} {'status':<10} {'trained_at':<16} {'window':<22} "
        f"{'R²oof':>6} | evaluation: {'held out':<22} {'races':>5} {'R²mod':>6} {'R²comb':>6} "
        f"{'ΔR²':>7} {'bets':>5} {'ROI':>6}"
    )
    for r in records:
        r2 = (r.metrics.get("training") or {}).get("oof_pseudo_r2_model")
        window = f"{r.train_start}..{r.train_end}"
        e = evaluation_summary(r.metrics)
        evaluation = (
            f"{e['window'] or '':<22} {_fmt(e['races'], '>5')} {_fmt(e['r2_model'], '>6.4f')} "
            f"{_fmt(e['r2_combined'], '>6.4f')} {_fmt(e['delta_r2'], '>+7.4f')} {_fmt(e['bets'], '>5')} "
            f"{_fmt(e['roi'], '>+6.3f')}"
            if e
            else "not evaluated (pmu evaluate ... --model NAME@VERSION)"
        )
        print(
            f"{r.id:>4}  {r.label:<24} {r.kind:<9} {r.status:<10} {r.trained_at:%Y-%m-%d %H:%M}  "
            f"{window:<22} {_fmt(r2, '>6.4f'):>6} | {evaluation}"
        )
    return 0


def run_models_promote(args) -> int:
    from ml import registry
    from pmu_core import db

    try:
        record = registry.promote(db.ensure_database(), args.ref)
    except (LookupError, ValueError) as exc:
        return _fail(str(exc))
    print(f"{record.label} is now the production model of {record.name}")
    return 0


def run_score(args) -> int:
    from ml.dataset import MissingMartError
    from pipeline.scoring import score
    from pmu_core import db

    url = db.ensure_database()
    try:
        summary = score(url, [args.date], model_ref=args.model)
    except (LookupError, MissingMartError, FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    if not summary["races"]:
        return _fail(f"nothing to score on {args.date}: no declared runner that day; {_held_days(url)}")
    print(
        f"scored {args.date} with {summary['model']}: {summary['races']} races, "
        f"{summary['runners']} runners"
        + (f", {summary['value_bets']} value bets" if summary["runners"] else "")
    )
    return 0


def _held_days(db_url: str) -> str:
    from ml.dataset import feature_days

    days = feature_days(db_url)
    if not days:
        return "the feature mart holds no day"
    return f"the feature mart holds {len(days)} days, {days[0]}..{days[-1]}"


def run_drift(args) -> int:
    from ml.dataset import MissingMartError
    from pipeline.monitoring import drift
    from pmu_core import db
    from pmu_core.facts import PSI_WARN

    end = args.end or args.date
    if end < args.date:
        return _fail(f"--end {end} is before --date {args.date}")
    days = [dt.date.fromordinal(n) for n in range(args.date.toordinal(), end.toordinal() + 1)]
    url = db.ensure_database()
    try:
        found = drift(url, days, model_ref=args.model)
    except (LookupError, MissingMartError, FileNotFoundError) as exc:
        return _fail(str(exc))
    if not found["per_day"]:
        return _fail(f"no declared runner on {args.date}..{end}; {_held_days(url)}")
    print(f"drift of {found['model']} against its training window (warn above PSI {PSI_WARN}):")
    for day, table in found["per_day"].items():
        flagged = table.loc[table["drifted"], "feature"].tolist()
        print(f"{day}: {'DRIFT in ' + ', '.join(flagged) if flagged else 'stable'}")
        for row in table.head(args.top).itertuples(index=False):
            print(
                f"  {row.feature:<40} psi {row.psi:7.4f}  missing {row.reference_missing:6.1%}"
                f" -> {row.current_missing:6.1%}"
            )
    if found["skipped"]:
        print(f"skipped (no declared runner): {', '.join(map(str, found['skipped']))}")
    return 0
