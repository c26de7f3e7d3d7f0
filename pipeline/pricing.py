"""Price a combination: the probability of each rank of dividend of a bet on a race and its fair
dividend, from the race's latest published win probabilities (modeling.predictions) through the
order model of ml.finishing (`pmu price`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pmu_core import db


class PricingError(ValueError):
    """Bad input (unknown race, a horse not in the field, a bet the field cannot hold)."""


@dataclass(frozen=True)
class Publication:
    """The latest win probabilities a model published for a race."""

    race_id: str
    model_id: int
    model_label: str
    scored_at: object
    market_served_at: object
    num_pmu: np.ndarray
    probability: np.ndarray
    discounts: tuple[float, ...] = (1.0,)  # the model's place discounts (Harville without them)


def latest_publication(db_url: str | None, race_id: str, model_ref: str | None = None) -> Publication:
    """The race's rows of modeling.predictions from the model that scored it last (or `model_ref`:
    NAME or NAME@VERSION). PricingError when none."""
    name, _, version_text = (model_ref or "").partition("@")
    if version_text and not version_text.isdigit():
        raise PricingError(f"not NAME or NAME@VERSION: {model_ref!r}")
    version = int(version_text) if version_text else None
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('modeling.predictions') is not null")
        if not cur.fetchone()[0]:
            raise PricingError("no predictions published yet (pmu score --date D)")
        cur.execute(
            """
            select model_id from modeling.predictions
            where race_id = %(race)s
              and (%(name)s = '' or model_name = %(name)s)
              and (%(version)s::int is null or model_version = %(version)s::int)
            group by model_id order by max(scored_at) desc, model_id desc limit 1
            """,
            {"race": race_id, "name": name, "version": version},
        )
        row = cur.fetchone()
        if row is None:
            which = f" by {model_ref}" if model_ref else ""
            raise PricingError(f"no published win probabilities{which} for race {race_id!r}")
        cur.execute(
            "select num_pmu, probability, model_name, model_version, scored_at, market_served_at"
            " from modeling.predictions where model_id = %s and race_id = %s order by num_pmu",
            (row[0], race_id),
        )
        rows = cur.fetchall()
        cur.execute("select metrics -> 'place_discounts' from modeling.models where id = %s", (row[0],))
        fitted = cur.fetchone()
    return Publication(
        discounts=tuple(fitted[0]) if fitted and fitted[0] else (1.0,),
        race_id=race_id,
        model_id=int(row[0]),
        model_label=f"{rows[0][2]}@{rows[0][3]}",
        scored_at=max(r[4] for r in rows),
        market_served_at=max((r[5] for r in rows if r[5] is not None), default=None),
        num_pmu=np.array([int(r[0]) for r in rows]),
        probability=np.array([float(r[1]) for r in rows]),
    )


def price_combination(
    publication: Publication,
    bet: str,
    combination: Sequence[int],
    *,
    lambdas: Sequence[float] | None = None,
    n_samples: int | None = None,
    seed: int = 0,
) -> dict:
    """Each rank's probability (paid = the best rank the combination wins) and fair dividend per
    1 EUR after the pool's takeout. Horses are numPmu."""
    from ml import finishing
    from pmu_core.facts import bet_rule

    try:
        rule = bet_rule(bet)
    except ValueError as exc:
        raise PricingError(str(exc)) from None
    index = {int(n): i for i, n in enumerate(publication.num_pmu)}
    missing = [h for h in combination if h not in index]
    if missing:
        field = ", ".join(str(n) for n in publication.num_pmu)
        raise PricingError(f"horse(s) {missing} not in the field of {publication.race_id} ({field})")
    try:
        ranks = finishing.bet_probabilities(
            publication.probability,
            rule.code,
            [index[h] for h in combination],
            lambdas=publication.discounts if lambdas is None else lambdas,
            n_samples=n_samples or finishing.DEFAULT_SAMPLES,
            seed=seed,
        )
    except ValueError as exc:
        raise PricingError(str(exc)) from None
    return {
        "race_id": publication.race_id,
        "bet": rule.code,
        "combination": list(combination),
        "model": publication.model_label,
        "scored_at": publication.scored_at,
        "takeout": rule.takeout,
        "ranks": [
            {
                "label": r.label,
                "probability": r.paid.probability,
                "std_error": r.paid.std_error,
                "method": r.paid.method,
                "fair_odds": (1.0 / r.paid.probability) if r.paid.probability > 0 else None,
                "fair_dividend": finishing.fair_dividend(r.paid.probability, rule.takeout)
                if r.paid.probability > 0
                else None,
            }
            for r in ranks
        ],
    }


def price(
    db_url: str | None,
    race_id: str,
    bet: str,
    combination: Sequence[int],
    *,
    model_ref: str | None = None,
    lambdas: Sequence[float] | None = None,
    n_samples: int | None = None,
    seed: int = 0,
) -> dict:
    return price_combination(
        latest_publication(db_url, race_id, model_ref),
        bet,
        combination,
        lambdas=lambdas,
        n_samples=n_samples,
        seed=seed,
    )
