"""What a combination returns per 1 EUR staked, read from PMU's official rows (marts.bet_report):
the rows list every payable combination of each rank, dead heats included, so settling is matching
the bet against them, best rank first (a ticket is paid its best rank only)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pmu_core.facts import BetRule


@dataclass(frozen=True)
class DividendRow:
    label: str
    combination: tuple[int, ...]  # numPmu, in the body's order
    dividend_per_eur: float


@dataclass(frozen=True)
class Settlement:
    status: str  # won | lost | refunded
    return_per_eur: float  # what 1 EUR staked pays back (0 when lost, 1 when refunded)
    label: str | None = None  # the rank paid


def parse_combination(text: str) -> tuple[int, ...]:
    """'16-15-7' -> (16, 15, 7); ValueError on anything else."""
    try:
        out = tuple(int(x) for x in str(text).replace(" ", "").split("-"))
    except ValueError:
        raise ValueError(f"not a combination of horse numbers: {text!r}") from None
    if not out or any(x <= 0 for x in out):
        raise ValueError(f"not a combination of horse numbers: {text!r}")
    return out


def settle(
    rule: BetRule,
    combination: Sequence[int],
    rows: Iterable[DividendRow],
    *,
    refunded: bool = False,
    non_runners: Iterable[int] = (),
) -> Settlement:
    """Settle one combination of `rule` against the official rows of its race and bet type.
    Refunded: the pool was refunded (`rembourse`, a cancelled race) or, for a one-horse bet, the horse
    did not run. A combined bet holding a non-runner is refunded unless an official row pays it
    (PMU's rows for such cases, e.g. "… NP" labels, match like any other row); that is the rule of
    Couplé, Trio, 2sur4 and Multi, and an approximation for the Tiercé/Quarté+/Quinté+ whose
    non-runner rules have more cases than the recorded rows show."""
    chosen = tuple(int(h) for h in combination)
    if refunded:
        return Settlement("refunded", 1.0)
    rows = list(rows)
    non_runners = set(non_runners)
    if rule.max_horses == 1 and chosen[0] in non_runners:
        return Settlement("refunded", 1.0)
    for payout in rule.payouts:
        label = payout.label.format(n=len(chosen))
        for row in rows:
            if row.label != label:
                continue
            fits = row.combination == chosen if payout.ordered else set(row.combination) <= set(chosen)
            if fits:
                return Settlement("won", float(row.dividend_per_eur), label)
    if non_runners & set(chosen):
        return Settlement("refunded", 1.0)
    return Settlement("lost", 0.0)
