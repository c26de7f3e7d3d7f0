"""`pmu price --race ID --bet COUPLE_PLACE --combo 3-7`: probability and fair dividend of a
combination from the race's latest published win probabilities."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    price = subparsers.add_parser(
        "price", help="probability and fair dividend of a combination (place, Couplé, Trio, Quinté+, …)"
    )
    price.add_argument("--race", required=True, help="race id YYYY-MM-DD-R{n}-C{n}")
    price.add_argument(
        "--bet", required=True, help="bet type as in the rapports: SIMPLE_PLACE, COUPLE_PLACE, …"
    )
    price.add_argument("--combo", required=True, help="horse numbers, e.g. 3-7")
    price.add_argument(
        "--model", default=None, help="NAME or NAME@VERSION (default: the latest to score the race)"
    )
    price.add_argument("--harville", action="store_true", help="Harville's order model (no place discount)")
    price.add_argument("--samples", type=int, default=None, help="Monte Carlo draws for big events")
    price.add_argument("--seed", type=int, default=0)
    price.add_argument("--json", action="store_true")
    price.set_defaults(func=run_price)


def run_price(args) -> int:
    from ml import finishing
    from ml.settlement import parse_combination
    from pipeline.pricing import PricingError, price
    from pmu_core import db

    try:
        combination = parse_combination(args.combo)
        result = price(
            db.ensure_database(),
            args.race,
            args.bet,
            combination,
            model_ref=args.model,
            lambdas=finishing.HARVILLE if args.harville else None,
            n_samples=args.samples,
            seed=args.seed,
        )
    except (PricingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, default=str, indent=2))
        return 0
    print(
        f"{result['bet']} {args.combo} in {result['race_id']} ({result['model']}, published "
        f"{result['scored_at'].isoformat(timespec='minutes')}; takeout {result['takeout']:.0%})"
    )
    for r in result["ranks"]:
        err = f" ± {r['std_error']:.2e} (Monte Carlo)" if r["method"] == "monte_carlo" else ""
        fair = "-" if r["fair_dividend"] is None else f"{r['fair_dividend']:.2f}"
        print(f"  {r['label']:<16} p = {r['probability']:.6f}{err}   fair dividend per 1 EUR {fair}")
    return 0
