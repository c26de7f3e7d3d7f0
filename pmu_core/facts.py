"""The registry of PMU facts: what the turfinfo API serves and how the warehouse names it.

Every module that needs one of these imports it from here; nothing else spells an endpoint, a raw
table, an id format, the time zone or a betting constant. Adding an endpoint end to end is one row
in ENDPOINTS, its table in extract/schema.sql, one staging model and its YAML: the raw assets, the
dbt sources check and the landing schema check all follow this tuple.

Contracts other modules rely on (cited as "contract N" in comments):
1. raw tables: one row per landed body, keyed by (race_date, meeting_num, race_num) with its
   provenance (extract/schema.sql), the body untouched as jsonb;
2. ids and windows: `race_id` = YYYY-MM-DD-R{n}-C{n} and `meeting_id` = YYYY-MM-DD-R{n}, the race
   day in Europe/Paris; dbt's incremental window is the half-open [start_date, end_date) of race
   dates, passed as dbt vars;
3. feature marts: marts.feat_runner_pre_race and marts.fct_runner_result, one row per declared
   runner keyed by (race_id, num_pmu), the `f_*` features known before the start (ml/dataset.py
   reads only these two tables).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

# --- the API ---------------------------------------------------------------------------------------

LIVE_API_BASE_URL = "https://online.turfinfo.api.pmu.fr"
API_PATH_PREFIX = "/rest/client/{client}/programme/"
CLIENT_NUMBERS = (1, 7, 61)  # the client numbers the public site uses; the bodies are the same

# Race days, start times and the day a body belongs to are Paris time (never the body's
# timezoneOffset, wrong on DST days).
PARIS = ZoneInfo("Europe/Paris")


RAW_SCHEMA = "raw"


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the API: its name in the CLI and the assets, its raw table, and where its
    bodies live after DDMMYYYY (a day's programme, or one race's body under R{n}/C{n}/)."""

    name: str
    raw_table: str
    race_suffix: str | None  # None: one body per day (the programme)
    staging_model: str  # the stg_pmu__* model that reads the raw table's JSON

    @property
    def per_race(self) -> bool:
        return self.race_suffix is not None

    @property
    def qualified_table(self) -> str:
        return f"{RAW_SCHEMA}.{self.raw_table}"


# Strict fetch order: the programme says which races exist, the other three follow per race.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("programme", "pmu_programme", None, "stg_pmu__programme_snapshots"),
    Endpoint("participants", "pmu_participants", "participants", "stg_pmu__participant_snapshots"),
    Endpoint(
        "performances", "pmu_performances", "performances-detaillees/pretty", "stg_pmu__past_performances"
    ),
    Endpoint("rapports", "pmu_rapports", "rapports-definitifs", "stg_pmu__dividends"),
)
ENDPOINT_NAMES: tuple[str, ...] = tuple(e.name for e in ENDPOINTS)
RAW_TABLES: dict[str, str] = {e.name: e.raw_table for e in ENDPOINTS}
# The bodies that change through a race day (fields, odds): a morning snapshot holds these, and
# they are landed again once the results are out.
MORNING_SNAPSHOT_ENDPOINTS: tuple[str, ...] = ("programme", "participants")
# What the 08:00 morning run lands: the snapshot plus the past performances the features read.
MORNING_RUN_ENDPOINTS: tuple[str, ...] = (*MORNING_SNAPSHOT_ENDPOINTS, "performances")


def endpoint(name: str) -> Endpoint:
    for candidate in ENDPOINTS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown endpoint {name!r}; known: {', '.join(ENDPOINT_NAMES)}")


# --- ids -------------------------------------------------------------------------------------------


def day_code(day: date) -> str:
    """The API's day in URLs and file names: DDMMYYYY."""
    return day.strftime("%d%m%Y")


def parse_day_code(text: str) -> date:
    """DDMMYYYY -> date; ValueError otherwise."""
    return datetime.strptime(text, "%d%m%Y").date()


def api_path(name: str, day: date, meeting: int | None = None, race: int | None = None) -> str:
    """Path of a body after the API prefix (`/rest/client/{n}/programme/`)."""
    spec = endpoint(name)
    if not spec.per_race:
        return day_code(day)
    if meeting is None or race is None:
        raise ValueError(f"{name} needs a meeting and a race number")
    return f"{day_code(day)}/R{meeting}/C{race}/{spec.race_suffix}"


def race_id(day: date, meeting: int, race: int) -> str:
    """The warehouse's race key (contract 2): YYYY-MM-DD-R{n}-C{n}, e.g. 2025-11-05-R1-C1."""
    return f"{day.isoformat()}-R{meeting}-C{race}"


RACE_ID_PATTERN = r"\d{4}-\d{2}-\d{2}-R\d{1,2}-C\d{1,2}"


def parse_race_id(text: str) -> date:
    """The race day of a race key (contract 2); ValueError naming the format when malformed."""
    if not re.fullmatch(RACE_ID_PATTERN, text):
        raise ValueError(
            f"malformed race id {text!r}: expected YYYY-MM-DD-R{{n}}-C{{n}}, e.g. 2025-11-05-R1-C1"
        )
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"malformed race id {text!r}: {text[:10]} is not a date") from None


# --- race statuses ---------------------------------------------------------------------------------

# After these a race's bodies no longer change. FIN_COURSE alone is not enough: the arrival may
# still be provisional; `arriveeDefinitive` says so explicitly.
FINAL_RACE_STATUSES = frozenset({"ARRIVEE_DEFINITIVE", "ARRIVEE_DEFINITIVE_COMPLETE", "COURSE_ANNULEE"})
CANCELLED_STATUSES = frozenset({"COURSE_ANNULEE"})

# A day served this long after its date is history: the API does not change it any more, whatever
# the statuses say (old days keep odd statuses such as PROGRAMMEE for races that did run).
SETTLED_AFTER = timedelta(days=3)

# --- betting ---------------------------------------------------------------------------------------

# Share of the win pool (Simple Gagnant) PMU keeps: on the recorded real days the median sum of
# 1/odds per race is 1.186 (../shared/pmu/STATS.md), a return of ~84%. The synthetic world's own
# pool keeps what its config says (synth.world.WorldConfig.takeout): a simulation, not a PMU fact.
WIN_POOL_TAKEOUT = 0.16
# A value bet: expected profit p·odds - 1 above this at the time of the bet.
DEFAULT_MIN_EDGE = 0.05
# Kelly stakes are capped at this fraction of the bankroll (a full Kelly on a noisy p ruins).
KELLY_CAP = 0.05

# --- monitoring ------------------------------------------------------------------------------------

# Population stability index of a feature or of the predictions, a day against the model's training
# window: above this the usual reading is "the population moved" (0.1 to 0.2: worth a look).
PSI_WARN = 0.2
PSI_BINS = 10  # quantile bins of the training window, plus one bin for missing values

# --- bet types: what each pool pays (rapports-definitifs `typePari`) -------------------------------


@dataclass(frozen=True)
class Payout:
    """One rank of dividend of a bet type, as the rapports body labels it (`libelle`). A combination
    wins it when at least `hits` of its horses are among the first `top` finishers (in the exact
    order when `ordered`: horse i of the combination i-th). `top` 0 means Simple placé's field-size
    rule (SIMPLE_PLACE_PLACES). The body lists one row per `hits`-subset of the first `top`
    finishers (their arrival order), which is how dead heats show: one row per payable subset."""

    label: str  # "Multi en {n}": n = the number of horses in the combination
    top: int
    hits: int
    ordered: bool = False


@dataclass(frozen=True)
class BetRule:
    """A bet type: how many horses a combination holds, its ranks of dividend (best first: a
    combination is paid its best rank only), the starters it needs (below: every bet is refunded)
    and the share of its pool PMU keeps."""

    code: str
    min_horses: int
    max_horses: int
    payouts: tuple[Payout, ...]
    min_starters: int
    takeout: float

    def payout(self, label: str) -> Payout:
        for p in self.payouts:
            if p.label == label or (p.label.startswith("Multi en") and label.startswith("Multi en")):
                return p
        raise ValueError(f"{self.code} pays no {label!r}; it pays {', '.join(p.label for p in self.payouts)}")


# Simple placé pays the first 3 with 8 starters or more, the first 2 with 4 to 7, nothing below
# (règlement du pari mutuel, pari Simple); a dead heat pays every horse whose place is within them.
SIMPLE_PLACE_PLACES = ((8, 3), (4, 2))  # (at least this many starters, places paid), largest first

# Shares kept: the win pool's is measured on the real days (WIN_POOL_TAKEOUT); the others are the
# published orders of magnitude (simple pools return ~85%, the combined ones a little over 70%),
# not per-pool figures: a fair dividend from them is an estimate.
SIMPLE_TAKEOUT = WIN_POOL_TAKEOUT
COMBINED_TAKEOUT = 0.28

BET_RULES: dict[str, BetRule] = {
    r.code: r
    for r in (
        BetRule("SIMPLE_GAGNANT", 1, 1, (Payout("Simple gagnant", 1, 1),), 2, SIMPLE_TAKEOUT),
        BetRule("SIMPLE_PLACE", 1, 1, (Payout("Simple placé", 0, 1),), 4, SIMPLE_TAKEOUT),
        BetRule("COUPLE_GAGNANT", 2, 2, (Payout("Couplé gagnant", 2, 2),), 3, COMBINED_TAKEOUT),
        BetRule("COUPLE_ORDRE", 2, 2, (Payout("Couplé ordre", 2, 2, True),), 3, COMBINED_TAKEOUT),
        BetRule("COUPLE_PLACE", 2, 2, (Payout("Couplé placé", 3, 2),), 8, COMBINED_TAKEOUT),
        # 2sur4: refunded when fewer than five horses ran (règlement, pari 2sur4)
        BetRule("DEUX_SUR_QUATRE", 2, 2, (Payout("2sur4", 4, 2),), 5, COMBINED_TAKEOUT),
        BetRule("TRIO", 3, 3, (Payout("Trio", 3, 3),), 4, COMBINED_TAKEOUT),
        BetRule("TRIO_ORDRE", 3, 3, (Payout("Trio ordre", 3, 3, True),), 4, COMBINED_TAKEOUT),
        BetRule("MULTI", 4, 7, (Payout("Multi en {n}", 4, 4),), 5, COMBINED_TAKEOUT),
        BetRule("TIERCE", 3, 3, (Payout("Ordre", 3, 3, True), Payout("Désordre", 3, 3)), 4, COMBINED_TAKEOUT),
        BetRule(
            "QUARTE_PLUS",
            4,
            4,
            (Payout("Ordre", 4, 4, True), Payout("Désordre", 4, 4), Payout("Bonus", 3, 3)),
            5,
            COMBINED_TAKEOUT,
        ),
        BetRule(
            "QUINTE_PLUS",
            5,
            5,
            (
                Payout("Ordre", 5, 5, True),
                Payout("Désordre", 5, 5),
                Payout("Bonus 4sur5", 5, 4),
                Payout("Bonus 3", 3, 3),
            ),
            6,
            COMBINED_TAKEOUT,
        ),
    )
}


def bet_rule(code: str) -> BetRule:
    rule = BET_RULES.get(code.upper())
    if rule is None:
        raise ValueError(f"unknown bet type {code!r}; known: {', '.join(BET_RULES)}")
    return rule


def simple_place_places(starters: int) -> int:
    """How many places Simple placé pays in a field of `starters` (0: not offered)."""
    for at_least, places in SIMPLE_PLACE_PLACES:
        if starters >= at_least:
            return places
    return 0


def payout_top(payout: Payout, starters: int) -> int:
    """The first finishers a payout looks at, in a field of `starters`."""
    return simple_place_places(starters) if payout.top == 0 else payout.top
