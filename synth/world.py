"""A persistent world of horses and people, and the races it runs day after day.

Each horse has a latent ability (heritable from its sire, curved by age, drifting run after run),
a form that moves after each run, and preferences: an optimal distance, a going preference and a
preference between the disciplines of its kind. Jockeys/drivers and trainers add skill effects.
A runner's log-strength in a race is the sum of these; the true win probabilities are the
softmax over starters, and the finishing order is a Plackett–Luce draw from the same strengths,
so the truth written beside the bodies is exactly the law the results were drawn from.

Everything is drawn from one seeded numpy Generator in a fixed order: same seed, same world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property

import numpy as np
import orjson

from pmu_core import facts
from pmu_core.facts import PARIS
from synth import catalog as cat
from synth.maths import market_probabilities, odds_from_probabilities, plackett_luce_order, softmax

MIN_REST_DAYS = 6


@dataclass(frozen=True)
class SynthConfig:
    """Size and behaviour knobs. The defaults give full-size days (about 50 races)."""

    meetings_per_day: float = 7.0
    burn_in_days: int = 120  # simulated before the first written day, so horses have a past
    strength_scale: float = 1.8  # sharpness of the truth: larger = favourites win more often
    # the simulated win pool's takeout (PMU's real one: pmu_core.facts.WIN_POOL_TAKEOUT)
    takeout: float = 0.15
    longshot_bias: float = 0.82  # exponent < 1 flattens the crowd's view (favourite-longshot bias)
    market_noise_final: float = 0.40  # sd of the log-noise of the final odds around the truth
    market_noise_morning: float = 0.45  # extra noise of the morning odds over the final ones
    non_runner_rate: float = 0.037
    cancel_rate: float = 0.01
    dead_heat_rate: float = 0.017
    rest_cycle_days: float = 24.0  # a horse runs about every this many days
    form_persistence: float = 0.6  # AR(1) coefficient of form from one run to the next
    form_noise: float = 0.22  # sd of the form's change after each run (unseen until the next result)


@dataclass
class Circuit:
    """A population of horses that meet each other: one country and one kind."""

    country: str
    country_label: str
    nationality: str
    kind: str
    tracks: list[tuple[str, str, str, str]]
    nature: str = "DIURNE"
    first_start: tuple[int, int] = (13, 30)
    abroad: bool = False
    horses: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    jockeys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    trainers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass
class Race:
    """One race of a day, with everything the bodies need (pre-race and post-race)."""

    day: date
    meeting: int
    num: int
    circuit: Circuit
    track: tuple[str, str, str, str]
    discipline: str
    distance: int
    prize: int
    category: str
    start_ms: int
    going: float | None  # penetrometre value; None on all-weather or unmeasured tracks
    going_label: str | None
    surface: str | None  # typePiste
    corde: str | None
    name: str
    cancelled: bool = False
    horses: np.ndarray | None = None  # by numPmu - 1
    jockeys: np.ndarray | None = None
    recul: np.ndarray | None = None  # trot handicap distance added, metres
    weight: np.ndarray | None = None  # galop: handicapPoids in 1/10 kg
    rating: np.ndarray | None = None  # galop: handicapValeur
    non_runner: np.ndarray | None = None
    non_runner_known_morning: np.ndarray | None = None
    p_true: np.ndarray | None = None  # 0 for non-runners
    odds_morning: np.ndarray | None = None
    odds_reference: np.ndarray | None = None
    odds_final: np.ndarray | None = None
    q_final: np.ndarray | None = None  # the market's normalised view behind the final odds
    place: np.ndarray | None = None  # finishing place, 0 when not placed (DQ, fall, non-runner)
    order: list[list[int]] = field(default_factory=list)  # ordreArrivee, numPmu lists
    status_arrivee: list[str] = field(default_factory=list)
    incident: list[str | None] = field(default_factory=list)
    time_ms: np.ndarray | None = None  # trot finishers' tempsObtenu, 0 otherwise
    rk_ms: np.ndarray | None = None  # trot finishers' reductionKilometrique (ms per km)
    margin: list[int | None] = field(default_factory=list)  # galop: index into catalog.MARGINS
    winner_time_ms: int = 0

    @cached_property
    def race_id(self) -> str:
        return facts.race_id(self.day, self.meeting, self.num)

    @property
    def n(self) -> int:
        return 0 if self.horses is None else len(self.horses)


def paris_ms(day: date, hour: int, minute: int, second: int = 0) -> int:
    """Epoch milliseconds of a Paris wall-clock time (the API's timestamps)."""
    moment = datetime.combine(day, time(hour, minute, second), tzinfo=PARIS)
    return int(moment.timestamp()) * 1000


def paris_offset_ms(day: date) -> int:
    """Europe/Paris UTC offset at noon of that day, in ms (the API's timezoneOffset)."""
    offset = datetime.combine(day, time(12, 0), tzinfo=PARIS).utcoffset()
    return int(offset.total_seconds()) * 1000


def going_label(value: float) -> str:
    for upper, label in cat.GOINGS:
        if value <= upper:
            return label
    return cat.GOINGS[-1][1]


class World:
    """Horses, people and their history; `run_day(day)` draws that day's races."""

    def __init__(self, config: SynthConfig, seed: int, first_day: date) -> None:
        self.cfg = config
        self.rng = np.random.default_rng(seed)
        self.first_day = first_day
        self._used_names: set[str] = set()
        self._used_people: set[str] = set()
        self.circuits = self._make_circuits()
        self._make_people()
        self._make_horses()
        # history of runs: race summaries referenced by horses' past performances
        self.race_summaries: dict[int, tuple[str, list[str]]] = {}
        self._summary_refs: dict[int, int] = {}
        self._next_summary = 0

    # ------------------------------------------------------------------ population
    def _make_circuits(self) -> list[Circuit]:
        circuits = [
            Circuit("FRA", "FRANCE", "France", kind, cat.TRACKS_FR[kind]) for kind, _ in cat.FR_KIND_SHARE
        ]
        for code, label, nationality, kind, track, nature, start in cat.CIRCUITS_ABROAD:
            circuits.append(Circuit(code, label, nationality, kind, [track], nature, start, abroad=True))
        return circuits

    def expected_meetings(self, circuit: Circuit) -> float:
        meetings = self.cfg.meetings_per_day
        if circuit.abroad:
            return meetings * 0.43 / len(cat.CIRCUITS_ABROAD)
        share = dict(cat.FR_KIND_SHARE)[circuit.kind]
        return meetings * 0.57 * share

    def _unique_horse_name(self) -> str:
        return self._horse_names(1)[0]

    def _person_names(self, count: int) -> list[str]:
        """`count` distinct names like 'J.MARTIN'; compound surnames once the simple ones run out."""
        rng = self.rng
        names: list[str] = []
        while len(names) < count:
            initial = cat.INITIALS[int(rng.integers(0, len(cat.INITIALS)))]
            first, second = rng.integers(0, len(cat.SURNAMES), size=2)
            name = f"{initial}.{cat.SURNAMES[first]}"
            if name in self._used_people:
                name = f"{name}-{cat.SURNAMES[second]}"
            if name in self._used_people:  # a huge world: number the rest
                name = f"{initial}.{cat.SURNAMES[first]}-{len(self._used_people)}"
            self._used_people.add(name)
            names.append(name)
        return names

    def _make_people(self) -> None:
        rng = self.rng
        n_jockeys = n_trainers = 0
        for circuit in self.circuits:
            demand = self.expected_meetings(circuit) * 7.5
            nj = max(12, int(demand * 1.6))
            nt = max(10, int(demand * 2.5))
            circuit.jockeys = np.arange(n_jockeys, n_jockeys + nj)
            circuit.trainers = np.arange(n_trainers, n_trainers + nt)
            n_jockeys += nj
            n_trainers += nt
        self.jockey_name = self._person_names(n_jockeys)
        # Skills: a few stars, many average (heavier tail to the right).
        self.jockey_skill = rng.normal(0.0, 0.18, n_jockeys) + rng.exponential(0.08, n_jockeys)
        self.trainer_name = self._person_names(n_trainers)
        self.trainer_skill = rng.normal(0.0, 0.22, n_trainers) + rng.exponential(0.08, n_trainers)
        self.owner_name = [
            f"ECURIE {s}" if i % 3 == 0 else s
            for i, s in enumerate(self._person_names(max(50, n_trainers * 3)))
        ]
        self.breeder_name = [
            f"HARAS {n.split('.', 1)[-1]}" if i % 2 else n
            for i, n in enumerate(self._person_names(max(50, n_trainers * 2)))
        ]
        n_sires = 60 * len(cat.DISCIPLINES)
        self.sire_name = [self._unique_horse_name() for _ in range(n_sires)]
        self.sire_kind = np.repeat(np.arange(len(cat.DISCIPLINES)), 60)
        self.sire_effect = rng.normal(0.0, 0.25, n_sires)

    def _make_horses(self) -> None:
        sizes = []
        for circuit in self.circuits:
            field_mean = 13.5 if circuit.kind == cat.TROT else 11.0
            demand = self.expected_meetings(circuit) * 7.5 * field_mean
            sizes.append(max(90, int(demand * self.cfg.rest_cycle_days)))
        total = sum(sizes)
        self.n_horses = total
        self.horse_circuit = np.zeros(total, dtype=np.int64)
        start = 0
        for ci, (circuit, size) in enumerate(zip(self.circuits, sizes, strict=True)):
            circuit.horses = np.arange(start, start + size)
            self.horse_circuit[start : start + size] = ci
            start += size
        n = total
        self.name = [""] * n
        self.dam = [""] * n
        self.damsire = [""] * n
        self.sire = np.zeros(n, dtype=np.int64)
        self.sex = np.zeros(n, dtype=np.int64)
        self.birth_year = np.zeros(n, dtype=np.int64)
        self.robe = np.zeros(n, dtype=np.int64)
        self.owner = np.zeros(n, dtype=np.int64)
        self.breeder = np.zeros(n, dtype=np.int64)
        self.trainer = np.zeros(n, dtype=np.int64)
        self.jockey = np.zeros(n, dtype=np.int64)
        self.base = np.zeros(n)
        self.form = np.zeros(n)
        self.dopt = np.zeros(n)
        self.dsens = np.zeros(n)
        self.going_pref = np.zeros(n)
        self.disc_pref = np.zeros((n, 3))
        self.dq_prop = np.zeros(n)
        self.blinkers = np.zeros(n, dtype=np.int64)
        self.last_run = np.full(n, -10_000, dtype=np.int64)
        self.n_runs = np.zeros(n, dtype=np.int64)
        self.wins = np.zeros(n, dtype=np.int64)
        self.seconds = np.zeros(n, dtype=np.int64)
        self.thirds = np.zeros(n, dtype=np.int64)
        self.places = np.zeros(n, dtype=np.int64)
        self.gains_wins = np.zeros(n, dtype=np.int64)
        self.gains_place = np.zeros(n, dtype=np.int64)
        self.gains_year = np.zeros(n, dtype=np.int64)  # year of gains_cur
        self.gains_cur = np.zeros(n, dtype=np.int64)
        self.gains_prev = np.zeros(n, dtype=np.int64)
        self.runs: list[list[tuple[int, int, int, str]]] = [[] for _ in range(n)]
        for circuit in self.circuits:
            self._new_horses(circuit, circuit.horses, self.first_day.year, initial=True)

    def _horse_names(self, count: int) -> list[str]:
        """`count` new unique horse names (vectorised draw; a taken name is drawn again, with a
        longer form, before a number is ever appended)."""
        rng = self.rng
        names: list[str] = []
        while len(names) < count:
            need = count - len(names)
            syl = rng.integers(0, len(cat.SYLLABLES), size=(need, 4))
            three = rng.random(need) < 0.5
            suffix = rng.integers(0, len(cat.SUFFIXES), size=need)
            for k in range(need):
                parts = syl[k, :3] if three[k] else syl[k, :2]
                name = "".join(cat.SYLLABLES[x] for x in parts) + cat.SUFFIXES[suffix[k]]
                if name in self._used_names:
                    name = "".join(cat.SYLLABLES[x] for x in syl[k]) + cat.SUFFIXES[suffix[k]]
                if name in self._used_names:
                    continue  # drawn again in the next round
                self._used_names.add(name)
                names.append(name)
        return names

    def _new_horses(self, circuit: Circuit, idx: np.ndarray, year: int, initial: bool = False) -> None:
        """(Re)initialise horses `idx` of a circuit: a new identity, latents and an empty past.
        Initial ages follow the age mix of ../shared/pmu/STATS.md, clipped to the kind's range;
        newcomers are young."""
        rng = self.rng
        m = len(idx)
        if m == 0:
            return
        kind = circuit.kind
        kind_index = list(cat.DISCIPLINES).index(kind)
        low, high = cat.AGE_RANGE[kind]
        if initial:
            ages = rng.choice(
                [2, 3, 4, 5, 6, 7, 8, 9], size=m, p=[0.07, 0.23, 0.24, 0.17, 0.12, 0.08, 0.05, 0.04]
            )
            ages = np.clip(ages, low, high)
        else:
            ages = np.full(m, low)
        self.birth_year[idx] = year - ages
        names = self._horse_names(2 * m)
        damsires = rng.integers(0, len(self.sire_name), size=m)
        for k, h in enumerate(idx):
            self.name[h] = names[2 * k]
            self.dam[h] = names[2 * k + 1]
            self.damsire[h] = self.sire_name[damsires[k]]
            self.runs[h] = []
        sires = np.flatnonzero(self.sire_kind == kind_index)
        self.sire[idx] = sires[rng.integers(0, len(sires), size=m)]
        self.sex[idx] = rng.choice(3, size=m, p=cat.SEX_SHARE)
        self.robe[idx] = rng.integers(0, len(cat.ROBES), size=m)
        self.owner[idx] = rng.integers(0, len(self.owner_name), size=m)
        self.breeder[idx] = rng.integers(0, len(self.breeder_name), size=m)
        self.trainer[idx] = circuit.trainers[rng.integers(0, len(circuit.trainers), size=m)]
        self.jockey[idx] = circuit.jockeys[rng.integers(0, len(circuit.jockeys), size=m)]
        self.base[idx] = self.sire_effect[self.sire[idx]] + rng.normal(0.0, 0.55, m)
        self.form[idx] = rng.normal(0.0, 0.2, m)
        if kind == cat.OBSTACLE:
            d_low, d_high = 3300, 5500
        else:
            distances = cat.DISTANCES[cat.DISCIPLINES[kind][0]]
            d_low, d_high = min(distances), max(distances)
        self.dopt[idx] = rng.uniform(d_low, d_high, m)
        self.dsens[idx] = rng.uniform(0.2, 1.0, m)
        self.going_pref[idx] = rng.normal(0.0, 0.25, m)
        self.disc_pref[idx] = rng.normal(0.0, 0.3, (m, 3))
        if kind == cat.TROT:  # most trotters prefer harness to saddle
            self.disc_pref[idx, 1] = rng.normal(-0.25, 0.4, m)
        self.dq_prop[idx] = rng.beta(2, 14, m) if kind == cat.TROT else rng.beta(1.5, 18, m)
        self.blinkers[idx] = rng.integers(0, len(cat.OEILLERES), size=m)
        self.last_run[idx] = -10_000
        for arr in (
            self.n_runs,
            self.wins,
            self.seconds,
            self.thirds,
            self.places,
            self.gains_wins,
            self.gains_place,
            self.gains_cur,
            self.gains_prev,
        ):
            arr[idx] = 0
        self.gains_year[idx] = year

    def age(self, h: np.ndarray | int, year: int) -> np.ndarray | int:
        return year - self.birth_year[h]

    def _renew_population(self, day: date) -> None:
        """Old horses retire and a few others leave; young ones take their place."""
        year = day.year
        leaving = self.rng.random(self.n_horses) < 1.0 / 900.0
        for circuit in self.circuits:
            idx = circuit.horses
            gone = idx[leaving[idx] | ((year - self.birth_year[idx]) > cat.AGE_RANGE[circuit.kind][1])]
            self._new_horses(circuit, gone, year)

    # ------------------------------------------------------------------ one day
    def plan_day(self, day: date) -> list[Race]:
        """Meetings and races of a day (not yet the runners)."""
        rng = self.rng
        meetings: list[tuple[Circuit, tuple, str, tuple[int, int]]] = []
        fr = [c for c in self.circuits if not c.abroad]
        for circuit in fr:
            count = rng.poisson(self.expected_meetings(circuit))
            for _ in range(count):
                track = circuit.tracks[int(rng.integers(0, len(circuit.tracks)))]
                nature = "DIURNE" if rng.random() < 0.8 else "SEMINOCTURNE"
                start = (
                    (13, 15 + int(rng.integers(0, 4)) * 15)
                    if nature == "DIURNE"
                    else (16 + int(rng.integers(0, 2)), 30)
                )
                meetings.append((circuit, track, nature, start))
        if not meetings:  # a race day always has a French meeting
            circuit = fr[0]
            meetings.append((circuit, circuit.tracks[0], "DIURNE", (13, 30)))
        for circuit in (c for c in self.circuits if c.abroad):
            if rng.random() < min(1.0, self.expected_meetings(circuit)):
                meetings.append((circuit, circuit.tracks[0], circuit.nature, circuit.first_start))
        # French meetings first (R1, R2, ...), then abroad, each ordered by first start
        meetings.sort(key=lambda m: (m[0].abroad, m[3]))
        races: list[Race] = []
        for r_index, (circuit, track, _nature, (hh, mm)) in enumerate(meetings, start=1):
            n_races = int(rng.integers(5, 10)) if not circuit.abroad else int(rng.integers(4, 10))
            kind = circuit.kind
            if kind == cat.TROT:
                disciplines = ["MONTE" if rng.random() < 0.15 else "ATTELE" for _ in range(n_races)]
            elif kind == cat.OBSTACLE:
                disciplines = list(
                    rng.choice(["HAIE", "STEEPLECHASE", "CROSS"], size=n_races, p=[0.5, 0.4, 0.1])
                )
            else:
                disciplines = ["PLAT"] * n_races
            going_value = None if kind == cat.TROT else round(float(rng.uniform(2.6, 5.4)), 1)
            psf = kind == cat.PLAT and rng.random() < 0.35
            spacing = 30 if not circuit.abroad else 35
            for c_index, discipline in enumerate(disciplines, start=1):
                start_min = hh * 60 + mm + (c_index - 1) * spacing
                start_min = min(start_min, 22 * 60 + 45)
                start_ms = paris_ms(day, start_min // 60, start_min % 60)
                prize = int(round(cat.PRIZE_MEDIAN[discipline] * float(np.exp(rng.normal(0, 0.6))), -2))
                if circuit.abroad:
                    prize = max(1000, prize // 2)
                distance = int(rng.choice(cat.DISTANCES[str(discipline)]))
                category = str(rng.choice(cat.CATEGORIES[str(discipline)]))
                if kind == cat.PLAT:
                    going = None if psf else going_value
                    label = str(rng.choice(cat.PSF_INTITULES)) if psf else going_label(going_value)
                    surface = None if psf else ("GAZON" if rng.random() < 0.5 else "HERBE")
                    corde = "CORDE_DROITE" if rng.random() < 0.5 else "CORDE_GAUCHE"
                elif kind == cat.OBSTACLE:
                    going, label, surface, corde = going_value, going_label(going_value), "HERBE", None
                else:
                    going, label, surface = None, None, None
                    corde = "CORDE_GAUCHE" if rng.random() < 0.7 else "CORDE_DROITE"
                name = f"PRIX {self.sire_name[int(rng.integers(0, len(self.sire_name)))]}"
                races.append(
                    Race(
                        day=day,
                        meeting=r_index,
                        num=c_index,
                        circuit=circuit,
                        track=track,
                        discipline=str(discipline),
                        distance=distance,
                        prize=prize,
                        category=category,
                        start_ms=start_ms,
                        going=going,
                        going_label=label,
                        surface=surface,
                        corde=corde,
                        name=name,
                    )
                )
        return races

    def _fill_fields(self, day_index: int, year: int, races: list[Race]) -> None:
        """Choose the declared runners of each race: a random share of the rested horses of the
        circuit, sorted by a noisy public class, so richer races draw the better horses."""
        rng = self.rng
        for circuit in self.circuits:
            mine = [r for r in races if r.circuit is circuit]
            if not mine:
                continue
            sizes = []
            for race in mine:
                median, spread, low, high = cat.FIELD_SIZE[race.discipline]
                sizes.append(int(np.clip(round(rng.normal(median, spread)), low, high)))
            idx = circuit.horses
            low_age = 3 if circuit.kind == cat.OBSTACLE else 2
            ages = year - self.birth_year[idx]
            rested = idx[(self.last_run[idx] <= day_index - MIN_REST_DAYS) & (ages >= low_age)]
            need = sum(sizes)
            if need > len(rested):  # shrink fields when the circuit runs short of rested horses
                scale = len(rested) / max(need, 1)
                sizes = [max(4, int(s * scale)) for s in sizes]
                need = sum(sizes)
            # horses that waited longest are likelier to be declared
            wait = (day_index - self.last_run[rested]).clip(1, 60).astype(float)
            chosen = rng.choice(rested, size=min(need, len(rested)), replace=False, p=wait / wait.sum())
            public = self.base[chosen] + self.form[chosen] * 0.5 + rng.normal(0.0, 0.45, len(chosen))
            chosen = chosen[np.argsort(-public, kind="stable")]
            order = np.argsort([-r.prize for r in mine], kind="stable")
            cursor = 0
            for k in order:
                race = mine[k]
                take = chosen[cursor : cursor + sizes[k]]
                cursor += sizes[k]
                if len(take) < 2:
                    race.cancelled = True
                    take = chosen[:0]
                race.horses = rng.permutation(take)

    def _strengths(self, race: Race, year: int) -> np.ndarray:
        h = race.horses
        kind = race.circuit.kind
        age = year - self.birth_year[h]
        s = self.base[h] - 0.05 * (age - cat.PEAK_AGE[kind]) ** 2 + self.form[h]
        s = s + self.jockey_skill[race.jockeys] + self.trainer_skill[self.trainer[h]]
        s = s - self.dsens[h] * ((race.distance - self.dopt[h]) / 1000.0) ** 2
        if race.going is not None:
            s = s + self.going_pref[h] * (race.going - 3.8) / 1.2
        disc_col = {"ATTELE": 0, "MONTE": 1, "PLAT": 0, "HAIE": 0, "STEEPLECHASE": 1, "CROSS": 2}
        s = s + self.disc_pref[h, disc_col[race.discipline]]
        if race.recul is not None:
            s = s - 0.006 * race.recul  # 25 m behind costs about 0.15
        if race.weight is not None and len(race.weight):
            s = s - 0.06 * (race.weight - race.weight.min()) / 10.0  # per kilo carried
        return s * self.cfg.strength_scale

    def run_day(self, day: date) -> list[Race]:
        """Draw a whole day: programme, fields, truth, market and results. The horses' state
        (form, history, earnings) is updated only after every race of the day is drawn, so the
        bodies built from `races` show each horse as it stood before the day."""
        self._renew_population(day)
        day_index = day.toordinal()
        year = day.year
        races = self.plan_day(day)
        self._fill_fields(day_index, year, races)
        for race in races:
            self._draw_race(race, year)
        return races

    def _draw_race(self, race: Race, year: int) -> None:
        rng = self.rng
        cfg = self.cfg
        n = race.n
        if n == 0:
            race.cancelled = True
            race.horses = np.zeros(0, dtype=np.int64)
        h = race.horses
        # the usual rider most of the time, otherwise another from the circuit
        usual = self.jockey[h]
        other = race.circuit.jockeys[rng.integers(0, len(race.circuit.jockeys), size=n)]
        race.jockeys = np.where(rng.random(n) < 0.7, usual, other)
        kind = race.circuit.kind
        if kind == cat.TROT and race.discipline == "ATTELE" and race.category != "AUTOSTART":
            # richer horses start 25 m (sometimes 50 m) behind
            earned = self.gains_wins[h] + self.gains_place[h]
            race.recul = np.zeros(n, dtype=np.int64)
            if n:
                race.recul[earned > max(np.quantile(earned, 0.66), 0)] = 25
                if rng.random() < 0.3:
                    race.recul[earned > max(np.quantile(earned, 0.9), 0)] = 50
            order = np.lexsort((np.arange(n), race.recul))
        elif kind != cat.TROT:
            race.rating = np.round((30 + 8 * (self.base[h] + rng.normal(0, 0.3, n))) * 2) / 2
            race.rating = np.clip(race.rating, 10, 60)
            # handicap weights (1/10 kg): one kilo per rating point above the lowest rated
            # (an empty field must stay an empty array: a scalar here would index an empty race)
            extra = (
                np.round(race.rating - race.rating.min()).astype(np.int64) * 10
                if n
                else np.zeros(0, dtype=np.int64)
            )
            race.weight = np.minimum(540 + extra, 620) + (90 if kind == cat.OBSTACLE else 0)
            order = np.argsort(-race.weight, kind="stable")
        else:
            order = np.arange(n)
        race.horses = h = h[order]
        race.jockeys = race.jockeys[order]
        for attr in ("recul", "weight", "rating"):
            value = getattr(race, attr)
            if value is not None:
                setattr(race, attr, value[order])
        if not race.cancelled and rng.random() < cfg.cancel_rate:
            race.cancelled = True
        # non-runners: most known by the morning, some withdrawn later in the day
        nr = rng.random(n) < cfg.non_runner_rate
        if n - nr.sum() < 2:
            nr[:] = False
        race.non_runner = nr
        race.non_runner_known_morning = nr & (rng.random(n) < 0.6)
        scores = self._strengths(race, year)
        starters = np.flatnonzero(~nr)
        p = np.zeros(n)
        if len(starters):
            p[starters] = softmax(scores[starters])
        race.p_true = p
        # market: final odds are a noisy view of the truth; morning odds add more noise
        noise_final = rng.normal(0.0, cfg.market_noise_final, n)
        noise_morning = noise_final + rng.normal(0.0, cfg.market_noise_morning, n)
        noise_ref = noise_final + rng.normal(0.0, cfg.market_noise_morning * 0.5, n)
        q_final = np.zeros(n)
        odds_final = np.zeros(n)
        odds_ref = np.zeros(n)
        if len(starters):
            ps = p[starters]
            q_final[starters] = market_probabilities(ps, 0, cfg.longshot_bias, rng, noise_final[starters])
            odds_final[starters] = odds_from_probabilities(q_final[starters], cfg.takeout)
            q_ref = market_probabilities(ps, 0, cfg.longshot_bias, rng, noise_ref[starters])
            odds_ref[starters] = odds_from_probabilities(q_ref, cfg.takeout)
        race.q_final = q_final
        race.odds_final = odds_final
        race.odds_reference = odds_ref
        # morning market: over the runners still declared in the morning
        morning = np.flatnonzero(~race.non_runner_known_morning)
        odds_morning = np.zeros(n)
        if len(morning) >= 2:
            pm = softmax(scores[morning])
            qm = market_probabilities(pm, 0, cfg.longshot_bias, rng, noise_morning[morning])
            odds_morning[morning] = odds_from_probabilities(qm, cfg.takeout)
        race.odds_morning = odds_morning
        race.place = np.zeros(n, dtype=np.int64)
        race.status_arrivee = ["NON_PLACE"] * n
        race.incident = [None] * n
        race.time_ms = np.zeros(n, dtype=np.int64)
        race.rk_ms = np.zeros(n, dtype=np.int64)
        race.margin = [None] * n
        for i in np.flatnonzero(nr):
            race.incident[i] = "NON_PARTANT"
            race.status_arrivee[i] = "NON_PARTANT"
        if race.cancelled or len(starters) < 2:
            race.cancelled = True
            return
        self._draw_result(race, scores, starters)

    def _draw_result(self, race: Race, scores: np.ndarray, starters: np.ndarray) -> None:
        """Finishing order (Plackett–Luce on the same strengths as the truth), incidents among
        the non-winners (so the winner keeps exactly its true probability), dead heats, times."""
        rng = self.rng
        h = race.horses
        kind = race.circuit.kind
        ranked = starters[plackett_luce_order(scores[starters], rng)]
        out_kind = "DISQUALIFIE_POUR_ALLURE_IRREGULIERE" if kind == cat.TROT else None
        finishers = [int(ranked[0])]
        for i in ranked[1:]:
            i = int(i)
            if kind == cat.TROT and rng.random() < self.dq_prop[h[i]]:
                race.incident[i] = out_kind
                race.status_arrivee[i] = "DISQUALIFIE"
            elif kind == cat.OBSTACLE and rng.random() < self.dq_prop[h[i]] * 2.0:
                race.incident[i] = "TOMBE" if rng.random() < 0.5 else "ARRETE"
                race.status_arrivee[i] = "NON_PLACE"
            elif kind == cat.PLAT and rng.random() < 0.004:
                race.incident[i] = "ARRETE"
                race.status_arrivee[i] = "NON_PLACE"
            else:
                finishers.append(i)
        # dead heats: two consecutive finishers share a place (places after them skip)
        groups: list[list[int]] = [[i] for i in finishers]
        if len(finishers) >= 2 and rng.random() < self.cfg.dead_heat_rate:
            k = int(rng.integers(0, min(5, len(finishers) - 1)))
            groups[k] = groups[k] + groups.pop(k + 1)
        place = 1
        for group in groups:
            for i in group:
                race.place[i] = place
                race.status_arrivee[i] = "PLACE"
            place += len(group)
        race.order = [[int(i) + 1 for i in group] for group in groups]
        # times: the winner's pace depends on the discipline, the going and its strength
        base = cat.SECONDS_PER_KM[race.discipline]
        if race.going is not None:
            base += (race.going - 3.5) * 1.2
        winner = finishers[0]
        pace = base - 0.4 * (scores[winner] / self.cfg.strength_scale) + rng.normal(0.0, 0.5)
        recul = race.recul if race.recul is not None else np.zeros(race.n)
        gap = 0.0
        previous_group_pace = pace
        for g_index, group in enumerate(groups):
            if g_index:
                gap += float(rng.exponential(0.25 if kind == cat.TROT else 0.15))
                previous_group_pace = pace + gap
            for i in group:
                run_distance = race.distance + int(recul[i])
                t_ms = int(round(previous_group_pace * run_distance))  # s/km * m = ms
                race.time_ms[i] = t_ms
                race.rk_ms[i] = int(round(previous_group_pace * 10.0)) * 100
                if g_index:
                    race.margin[i] = int(min(len(cat.MARGINS) - 1, rng.geometric(0.25) - 1))
        race.winner_time_ms = int(race.time_ms[winner])

    # ------------------------------------------------------------------ history
    def record_day(self, day: date, races: list[Race]) -> None:
        """After the day: form moves, abilities drift, earnings, musique and past performances."""
        rng = self.rng
        day_index = day.toordinal()
        year = day.year
        date_ms = paris_ms(day, 0, 0)
        offset = paris_offset_ms(day)
        for race in races:
            if race.cancelled or race.n == 0:
                continue
            h = race.horses
            starters = np.flatnonzero(~race.non_runner)
            letter = cat.MUSIQUE_LETTER[race.discipline]
            trot = race.circuit.kind == cat.TROT
            # the summary shown in later past performances
            header = {
                "date": date_ms,
                "timezoneOffset": offset,
                "hippodrome": race.track[3],
                "nomPrix": race.name,
                "discipline": race.discipline,
                "allocation": race.prize,
                "distance": race.distance,
                "nbParticipants": int(len(starters)),
            }
            if trot or race.winner_time_ms:
                header["tempsDuPremier"] = race.winner_time_ms // 10
            head = orjson.dumps(header).decode()[:-1] + ',"participants":['
            ranked = sorted(starters, key=lambda i: (race.place[i] == 0, race.place[i], i))
            entries = []
            for i in ranked:
                placed = race.place[i] > 0
                rk = int(race.rk_ms[i] // 10) if (trot and placed) else None
                entry = {
                    "numPmu": None,
                    "place": {
                        "place": int(race.place[i]) if placed else None,
                        "rawValue": None,
                        "statusArrivee": race.status_arrivee[i],
                    },
                    "nomCheval": self.name[h[i]],
                    "nomJockey": self.jockey_name[race.jockeys[i]],
                    "poidsJockey": None,
                    "corde": None,
                    "distanceAvecPrecedent": None,
                    "itsHim": False,
                    "reductionKilometrique": rk,
                    "distanceParcourue": race.distance
                    + (int(race.recul[i]) if race.recul is not None else 0),
                    "oeillere": None,
                }
                entries.append(orjson.dumps(entry).decode())
            summary_id = self._next_summary
            self._next_summary += 1
            self.race_summaries[summary_id] = (head, entries)
            self._summary_refs[summary_id] = 0
            prizes = _prize_split(race.prize)
            for pos, i in enumerate(ranked):
                horse = int(h[i])
                place = int(race.place[i])
                if race.status_arrivee[i] == "DISQUALIFIE":
                    code = "D"
                elif race.incident[i] in ("TOMBE", "ARRETE"):
                    code = "T" if race.incident[i] == "TOMBE" else "A"
                else:
                    code = str(place) if 1 <= place <= 9 else "0"
                self._push_run(horse, (summary_id, pos, year, code + letter))
                self.n_runs[horse] += 1
                if self.gains_year[horse] != year:
                    last_year = self.gains_year[horse] == year - 1
                    self.gains_prev[horse] = self.gains_cur[horse] if last_year else 0
                    self.gains_cur[horse] = 0
                    self.gains_year[horse] = year
                earned = prizes[place - 1] * 100 if 1 <= place <= 5 else 0
                if place == 1:
                    self.wins[horse] += 1
                    self.gains_wins[horse] += earned
                elif 2 <= place <= 5:
                    self.places[horse] += 1
                    self.gains_place[horse] += earned
                    self.seconds[horse] += place == 2
                    self.thirds[horse] += place == 3
                self.gains_cur[horse] += earned
                self.last_run[horse] = day_index
            # form moves with each run; ability drifts slowly
            hs = h[starters]
            change = rng.normal(0.0, self.cfg.form_noise, len(hs))
            self.form[hs] = self.cfg.form_persistence * self.form[hs] + change
            self.base[hs] += rng.normal(0.0, 0.03, len(hs))
        self._forget_unreferenced()

    def _push_run(self, horse: int, run: tuple[int, int, int, str]) -> None:
        runs = self.runs[horse]
        runs.insert(0, run)
        self._summary_refs[run[0]] += 1
        if len(runs) > 10:
            dropped = runs.pop()
            self._summary_refs[dropped[0]] -= 1

    def _forget_unreferenced(self) -> None:
        dead = [k for k, v in self._summary_refs.items() if v <= 0]
        for k in dead:
            del self._summary_refs[k]
            del self.race_summaries[k]

    def musique(self, horse: int, year: int) -> str:
        """The last (up to 10) results, newest first, with a '(yy)' marker before older years."""
        parts = []
        current = year
        for _sid, _pos, run_year, code in self.runs[horse]:
            if run_year != current:
                parts.append(f"({run_year % 100:02d})")
                current = run_year
            parts.append(code)
        return "".join(parts)

    def past_performances(self, horse: int, limit: int = 5) -> str:
        """JSON array text of the horse's last runs, each with the first five and itself."""
        items = []
        for sid, pos, _year, _code in self.runs[horse][:limit]:
            head, entries = self.race_summaries[sid]
            shown = list(entries[:5])
            mine = entries[pos].replace('"itsHim":false', '"itsHim":true', 1)
            if pos < 5:
                shown[pos] = mine
            else:
                shown.append(mine)
            items.append(head + ",".join(shown) + "]}")
        return "[" + ",".join(items) + "]"


def _prize_split(prize: int) -> list[int]:
    """montantOffert1er..5eme in euros."""
    shares = (0.45, 0.25, 0.14, 0.08, 0.05)
    return [int(prize * s) for s in shares]


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=k) for k in range((end - start).days + 1)]
