"""Score days: the chosen model's probabilities for every declared runner, published to
modeling.predictions and kept as publications (`pmu score`, the Dagster `modeling/predictions`
asset, `pmu demo`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from pmu_core.facts import DEFAULT_MIN_EDGE


def score(
    db_url: str,
    days: Sequence[dt.date],
    *,
    model_ref: str | None = None,
    only_moved: bool = False,
    min_edge: float = DEFAULT_MIN_EDGE,
    trigger: str = "manual",
    scored_at: dt.datetime | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Score each day with `model_ref` (NAME@VERSION, NAME, or None: the production model);
    `only_moved` re-scores only the races whose market or field changed since that model scored
    them. Each day scored is one publication (modeling.publications) named by `trigger` (morning,
    odds_moved, manual) at `scored_at` (default now). Returns the totals (model, model_id, days,
    races, runners, value_bets) and `per_day`.
    Raises LookupError when there is no such model, ml.dataset.MissingMartError without the
    feature marts."""
    from ml.scoring import score_day

    per_day = [
        score_day(
            db_url,
            day,
            model_ref=model_ref,
            only_moved=only_moved,
            min_edge=min_edge,
            trigger=trigger,
            scored_at=scored_at,
            log=log,
        )
        for day in days
    ]
    first = per_day[0] if per_day else {}
    return {
        "model": first.get("model"),
        "model_id": first.get("model_id"),
        "days": len(per_day),
        "races": sum(s["races"] for s in per_day),
        "runners": sum(s["runners"] for s in per_day),
        "value_bets": sum(s.get("value_bets", 0) for s in per_day),
        "per_day": per_day,
    }
