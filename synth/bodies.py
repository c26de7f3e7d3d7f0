"""API bodies of a synthetic day, shaped like the real turfinfo bodies (keys, types, units, nesting).

Two snapshots: `morning` (~09:00 Paris: races PROGRAMMEE, morning odds, no result, no rapports) and
`final` (evening: results, final odds, incidents, rapports-definitifs). Units as in the real API:
epoch ms (Paris), prizes in euros, earnings and dividends in cents, reductionKilometrique in ms/km
in participants and 1/100 s per km in past performances, penetrometre with a decimal comma.
The true probabilities never appear here.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import date, datetime

import numpy as np

from synth import catalog as cat
from synth.maths import dividend_cents, harville
from synth.world import PARIS, Race, World, paris_ms, paris_offset_ms

MORNING, FINAL = "morning", "final"


def _odds_value(odds: float) -> float | int:
    """As the API prints them: integers from 10 on, one decimal below."""
    return int(odds) if odds >= 10 else round(float(odds), 1)


def _pool_id(race: Race, bet: str) -> str:
    """A stable uuid-like pool id per race and bet type."""
    s = hashlib.md5(f"{race.race_id}/{bet}".encode()).hexdigest()
    return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"


BET_TYPES = {  # typePari: (miseBase, nbChevauxReglementaire, ordre)
    "SIMPLE_GAGNANT": (200, 1, False),
    "SIMPLE_PLACE": (200, 1, False),
    "COUPLE_GAGNANT": (200, 2, False),
    "COUPLE_PLACE": (200, 2, False),
    "DEUX_SUR_QUATRE": (300, 2, False),
    "TRIO": (200, 3, False),
    "MULTI": (300, 4, False),
    "TIERCE": (100, 3, True),
    "QUARTE_PLUS": (150, 4, True),
    "QUINTE_PLUS": (200, 5, True),
}


def bet_types(race: Race, quinte: bool) -> list[str]:
    declared = race.n
    types = ["SIMPLE_GAGNANT", "SIMPLE_PLACE", "COUPLE_GAGNANT", "COUPLE_PLACE"]
    if declared >= 6:
        types.append("DEUX_SUR_QUATRE")
    if declared >= 7:
        types.append("TRIO")
    if declared >= 8:
        types.append("MULTI")
    if quinte:
        types += ["TIERCE", "QUARTE_PLUS", "QUINTE_PLUS"]
    return types


def _paris(race: Race, quinte: bool) -> list[dict]:
    out = []
    for bet in bet_types(race, quinte):
        mise, nb, ordre = BET_TYPES[bet]
        out.append(
            {
                "typePari": bet,
                "miseBase": mise,
                "enVente": False,
                "audience": "NATIONAL",
                "reportable": True,
                "misEnPaiement": True,
                "codePari": bet,
                "spotAutorise": True,
                "nbChevauxReglementaire": nb,
                "ordre": ordre,
                "combine": True,
                "complement": nb > 1,
            }
        )
        out.append(
            {
                "poolId": _pool_id(race, bet),
                "typePari": f"E_{bet}",
                "miseBase": min(mise, 100),
                "miseMax": 3000000,
                "enVente": False,
                "audience": "NATIONAL",
                "cagnotte": 0,
                "reportable": True,
                "codePari": f"E_{bet}",
                "spotAutorise": True,
                "nbChevauxReglementaire": nb,
                "ordre": ordre,
                "combine": True,
                "complement": nb > 1,
            }
        )
    return out


def quinte_races(races: list[Race]) -> set[str]:
    """One Quinté+ a day: the richest French race with at least 12 declared runners."""
    candidates = [r for r in races if not r.circuit.abroad and r.n >= 12]
    if not candidates:
        return set()
    best = max(candidates, key=lambda r: (r.prize, -r.meeting, -r.num))
    return {best.race_id}


def _course(race: Race, snapshot: str, quinte: bool) -> dict:
    final = snapshot == FINAL
    prizes = [int(race.prize * s) for s in (0.45, 0.25, 0.14, 0.08, 0.05)]
    course: dict = {
        "cached": False,
        "departImminent": False,
        "timezoneOffset": paris_offset_ms(race.day),
        "numReunion": race.meeting,
        "numExterneReunion": race.meeting,
        "numOrdre": race.num,
        "numExterne": race.num,
        "heureDepart": race.start_ms,
        "libelle": race.name,
        "libelleCourt": race.name[5:],
        "montantPrix": race.prize,
        "parcours": "",
        "distance": race.distance,
        "distanceUnit": "METRE",
    }
    if final and not race.cancelled:
        course["arriveeDefinitive"] = True
    if race.corde:
        course["corde"] = race.corde
    course.update(
        {
            "discipline": race.discipline,
            "specialite": cat.SPECIALITE[race.discipline],
            "categorieParticularite": race.category,
            "conditionSexe": "TOUS_CHEVAUX",
            "nombreDeclaresPartants": race.n,
            "grandPrixNationalTrot": False,
            "numSocieteMere": 1000 * race.meeting + race.num,
            "pariMultiCourses": False,
            "pariSpecial": False,
            "montantTotalOffert": race.prize,
            "montantOffert1er": prizes[0],
            "montantOffert2eme": prizes[1],
            "montantOffert3eme": prizes[2],
            "montantOffert4eme": prizes[3],
            "montantOffert5eme": prizes[4],
            "conditions": f"{race.name} - {race.distance} mètres.",
            "numCourseDedoublee": 0,
        }
    )
    if race.surface:
        course["typePiste"] = race.surface
    if not final:
        course["statut"], course["categorieStatut"] = "PROGRAMMEE", "A_PARTIR"
    elif race.cancelled:
        course["statut"], course["categorieStatut"] = "COURSE_ANNULEE", "ANNULEE"
    else:
        course["statut"] = "FIN_COURSE" if race.circuit.abroad else "ARRIVEE_DEFINITIVE_COMPLETE"
        course["categorieStatut"] = "ARRIVEE"
        course["dureeCourse"] = race.winner_time_ms
    course["participants"] = []
    course["ecuries"] = []
    if race.going_label is not None and not race.circuit.abroad:
        pen = {
            "heureMesure": f"{race.day.isoformat()}T09:00",
            "intitule": race.going_label,
            "commentaire": "",
        }
        if race.going is not None:
            pen = {"valeurMesure": f"{race.going:.1f}".replace(".", ","), **pen}
        course["penetrometre"] = pen
    if final and not race.cancelled:
        incidents: dict[str, list[int]] = {}
        for i, incident in enumerate(race.incident):
            if incident:
                incidents.setdefault(incident, []).append(i + 1)
        if incidents:
            course["incidents"] = [{"type": k, "numeroParticipants": v} for k, v in incidents.items()]
    course.update(
        {
            "rapportsDefinitifsDisponibles": final and not race.cancelled,
            "isDepartImminent": False,
            "isDepartAJPlusUn": False,
            "cagnottes": [],
            "pronosticsExpires": False,
            "replayDisponible": final and not race.circuit.abroad,
            "hippodrome": {
                "codeHippodrome": race.track[0],
                "libelleCourt": race.track[1],
                "libelleLong": race.track[2],
            },
            "epcPourTousParis": True,
            "courseTrackee": False,
            "courseExclusiveInternet": False,
            "formuleChampLibreIndisponible": False,
        }
    )
    if final:
        course["isArriveeDefinitive"] = not race.cancelled
        if not race.cancelled:
            course["ordreArrivee"] = race.order
    course["hasEParis"] = True
    course["paris"] = _paris(race, quinte)
    return course


def programme_body(
    day: date, races: list[Race], snapshot: str, capture: datetime, rng: np.random.Generator
) -> dict:
    quinte = quinte_races(races)
    offset = paris_offset_ms(day)
    by_meeting: dict[int, list[Race]] = {}
    for race in races:
        by_meeting.setdefault(race.meeting, []).append(race)
    n_meetings = len(by_meeting)
    reunions = []
    for num, meeting_races in sorted(by_meeting.items()):
        first = meeting_races[0]
        circuit = first.circuit
        kinds = sorted({cat.SPECIALITE[r.discipline] for r in meeting_races})
        weather = cat.METEO[int(rng.integers(0, len(cat.METEO)))]
        reunion = {
            "cached": False,
            "timezoneOffset": offset,
            "dateReunion": paris_ms(day, 0, 0),
            "numOfficiel": num,
            "numOfficielReunionPrecedente": num - 1 if num > 1 else None,
            "numOfficielReunionSuivante": num + 1 if num < n_meetings else None,
            "numExterne": num,
            "nature": circuit.nature if circuit.abroad else "DIURNE",
            "hippodrome": {
                "code": first.track[0],
                "libelleCourt": first.track[1],
                "libelleLong": first.track[2],
            },
            "pays": {"code": circuit.country, "libelle": circuit.country_label},
            "courses": [_course(r, snapshot, r.race_id in quinte) for r in meeting_races],
            "audience": "NATIONAL",
            "statut": "TERMINEE" if snapshot == FINAL else "PROGRAMMEE",
            "disciplinesMere": [cat.DISCIPLINE_MERE[circuit.kind]],
            "specialites": kinds,
            "derniereReunion": num == n_meetings,
        }
        if snapshot == MORNING:
            reunion["prochaineCourse"] = 1
        quinte_here = [r for r in meeting_races if r.race_id in quinte]
        reunion["parisEvenement"] = [
            {
                "codePari": code,
                "course": {"dateProgramme": paris_ms(day, 0, 0), "numReunion": num, "numOrdre": r.num},
            }
            for r in quinte_here
            for code in ("QUINTE_PLUS", "E_QUINTE_PLUS")
        ]
        reunion["meteo"] = {
            "datePrevision": paris_ms(day, 8, 15),
            "nebulositeCode": weather[0],
            "nebulositeLibelleCourt": weather[1],
            "nebulositeLibelleLong": weather[2],
            "temperature": int(rng.integers(-2, 28)),
            "forceVent": int(rng.integers(0, 40)),
            "directionVent": cat.WIND[int(rng.integers(0, len(cat.WIND)))],
        }
        reunion["offresInternet"] = False
        reunion["cagnottes"] = []
        reunions.append(reunion)
    capture_ms = int(capture.timestamp() * 1000)
    return {
        "programme": {
            "cached": False,
            "date": paris_ms(day, 0, 0),
            "timezoneOffset": offset,
            "reunions": reunions,
            "prochainesCoursesAPartir": [],
            "datesProgrammesDisponibles": [day.strftime("%d%m%Y")],
        },
        "timestampPMU": {"timestamp": capture_ms, "timezoneOffset": offset},
    }


def _rapport(
    odds: float, typ: str, when_ms: int, favourite: bool, num: int, reference: float | None = None
) -> dict:
    trend, change = " ", 0
    if reference:
        change = round(float((odds - reference) / reference * 100.0), 2)
        trend = "+" if change > 0 else ("-" if change < 0 else " ")
    return {
        "typePari": "SIMPLE_GAGNANT",
        "rapport": _odds_value(odds),
        "typeRapport": typ,
        "indicateurTendance": trend,
        "nombreIndicateurTendance": change,
        "dateRapport": when_ms,
        "permutation": 1,
        "favoris": favourite,
        "numPmu1": num,
        "grossePrise": False,
    }


def participants_bodies(world: World, race: Race, morning_at: datetime, evening_at: datetime) -> dict:
    """{MORNING: body, FINAL: body} of a race's participants. What is known before the day (identity,
    career, musique) is the same in both; the final one adds results, incidents and final odds."""
    year = race.day.year
    kind = race.circuit.kind
    abroad = race.circuit.abroad
    trot = kind == cat.TROT
    breed = (cat.BREED_ABROAD if abroad else cat.BREED)[kind]
    handicap = race.rating is not None and race.category.startswith("HANDICAP")
    url_base = (
        f"https://www.pmu.fr/back-assets/hippique/casaques/{race.day.strftime('%d%m%Y')}/"
        f"R{race.meeting}/C{race.num}"
    )
    finished = not race.cancelled
    fav = {}
    for snapshot, odds in ((MORNING, race.odds_morning), (FINAL, race.odds_final)):
        live = odds > 0
        fav[snapshot] = int(np.argmin(np.where(live, odds, np.inf))) if live.any() else -1
    morning_ms = min(int(morning_at.timestamp() * 1000) - 120_000, race.start_ms - 3_600_000)
    ref_ms = race.start_ms - 1_800_000
    bodies: dict[str, list[dict]] = {MORNING: [], FINAL: []}
    for i, h in enumerate(race.horses.tolist()):
        num = i + 1
        gy = int(world.gains_year[h])
        cur = int(world.gains_cur[h]) if gy == year else 0
        prev = int(world.gains_prev[h]) if gy == year else (int(world.gains_cur[h]) if gy == year - 1 else 0)
        sire = world.sire_name[int(world.sire[h])]
        head: dict = {"idCheval": f"{world.name[h]}-{world.dam[h]}-{sire}"}
        if not trot:
            head["pays"] = race.circuit.nationality
        head.update(
            {
                "nom": world.name[h],
                "numPmu": num,
                "age": int(year - world.birth_year[h]),
                "sexe": cat.SEXES[int(world.sex[h])],
                "race": breed,
            }
        )
        block_a: dict = {}
        if race.discipline == "PLAT":
            block_a["placeCorde"] = int((i * 7 + race.num) % race.n) + 1
        block_a.update(
            {
                "oeilleres": cat.OEILLERES[int(world.blinkers[h])],
                "proprietaire": world.owner_name[int(world.owner[h])],
                "entraineur": world.trainer_name[int(world.trainer[h])],
            }
        )
        if trot and h % 2 == 0:
            block_a["deferre"] = cat.DEFERRE[h % len(cat.DEFERRE)]
        block_a.update({"driver": world.jockey_name[int(race.jockeys[i])], "driverChange": False})
        if not abroad:
            code, short, long_ = cat.ROBES[int(world.robe[h])]
            block_a["robe"] = {"code": code, "libelleCourt": short, "libelleLong": long_}
        n_runs = int(world.n_runs[h])
        block_a.update(
            {
                "indicateurInedit": n_runs == 0,
                "musique": world.musique(h, year),
                "nombreCourses": n_runs,
                "nombreVictoires": int(world.wins[h]),
                "nombrePlaces": int(world.places[h]),
                "nombrePlacesSecond": int(world.seconds[h]),
                "nombrePlacesTroisieme": int(world.thirds[h]),
                "gainsParticipant": {
                    "gainsCarriere": int(world.gains_wins[h] + world.gains_place[h]),
                    "gainsVictoires": int(world.gains_wins[h]),
                    "gainsPlace": int(world.gains_place[h]),
                    "gainsAnneeEnCours": cur,
                    "gainsAnneePrecedente": prev,
                },
            }
        )
        if handicap:
            rating = float(race.rating[i])
            block_a["handicapValeur"] = int(rating) if rating.is_integer() else rating
        block_a.update({"nomPere": sire, "nomMere": world.dam[h]})
        if not trot:
            block_a["nomPereMere"] = world.damsire[h]
        block_b: dict = {"jumentPleine": False, "engagement": False, "supplement": 0}
        if trot:
            recul = int(race.recul[i]) if race.recul is not None else 0
            block_b["handicapDistance"] = race.distance + recul
        if race.weight is not None or race.discipline == "MONTE":
            block_b["handicapPoids"] = int(race.weight[i]) if race.weight is not None else 620
        block_b["poidsConditionMonteChange"] = False
        tail: dict = {}
        if not abroad or not trot:
            tail["urlCasaque"] = f"{url_base}/P{num}.png"
        tail_end: dict = {"eleveur": "" if abroad else world.breeder_name[int(world.breeder[h])]}
        if kind == cat.OBSTACLE:
            tail_end["paysEntrainement"] = "France"
        tail_end["allure"] = cat.ALLURE[kind]
        if trot and not abroad:
            tail_end["avisEntraineur"] = "NEUTRE"
        out_morning = bool(race.non_runner_known_morning[i])
        for snapshot in (MORNING, FINAL):
            final = snapshot == FINAL
            non_runner = bool(race.non_runner[i]) if final else out_morning
            p = {**head, "statut": "NON_PARTANT" if non_runner else "PARTANT", **block_a}
            if final and finished and race.place[i] > 0:
                p["ordreArrivee"] = int(race.place[i])
            incident = race.incident[i] if final and finished else None
            if non_runner:
                incident = "NON_PARTANT"
            if incident:
                p["incident"] = incident
            p.update(block_b)
            if final and finished and race.place[i] > 1 and race.margin[i] is not None and not trot:
                code, ident, short, long_ = cat.MARGINS[race.margin[i]]
                p["distanceChevalPrecedent"] = {
                    "libelleCourt": short,
                    "libelleLong": long_,
                    "code": code,
                    "identifiant": ident,
                }
            if final and finished and trot and race.place[i] > 0:
                p["tempsObtenu"] = int(race.time_ms[i])
                p["reductionKilometrique"] = int(race.rk_ms[i])
            # odds: never for a runner out by the morning; a late withdrawal keeps its early odds
            if not out_morning:
                if final and not race.non_runner[i]:
                    p["dernierRapportDirect"] = _rapport(
                        race.odds_final[i],
                        "DIRECT",
                        race.start_ms + 60_000 + (num * 7919) % 120_000,
                        i == fav[FINAL],
                        num,
                        race.odds_reference[i],
                    )
                    p["dernierRapportReference"] = _rapport(
                        race.odds_reference[i],
                        "REFERENCE",
                        ref_ms,
                        i == fav[FINAL],
                        num,
                        race.odds_morning[i] or None,
                    )
                elif race.odds_morning[i] > 0:
                    p["dernierRapportDirect"] = _rapport(
                        race.odds_morning[i], "DIRECT", morning_ms, (not final) and i == fav[MORNING], num
                    )
                    if not final:
                        p["dernierRapportReference"] = _rapport(
                            race.odds_morning[i], "REFERENCE", morning_ms - 1_800_000, i == fav[MORNING], num
                        )
            p.update(tail)
            if final and finished and not abroad:
                p["commentaireApresCourse"] = {"texte": _comment(race, i), "source": "GENY"}
            p.update(tail_end)
            bodies[snapshot].append(p)
    sprites = [
        {"heightSize": size, "url": f"{url_base}/sprite_casaques_{label}.png", "originalSize": orig}
        for size, label, orig in (
            (19, "19px_size", False),
            (40, "40px_size", False),
            (261, "original_size", True),
        )
    ]
    return {
        snapshot: {"participants": runners, "ecuries": [], "spriteCasaques": sprites, "cached": False}
        for snapshot, runners in bodies.items()
    }


def _comment(race: Race, i: int) -> str:
    if race.non_runner[i]:
        return "Non-partant."
    if race.status_arrivee[i] == "DISQUALIFIE":
        return "A été disqualifié pour allure irrégulière."
    if race.incident[i] == "TOMBE":
        return "Est tombé."
    if race.incident[i] == "ARRETE":
        return "A été arrêté."
    if race.place[i] == 1:
        return "S'est imposé avec autorité."
    if 0 < race.place[i] <= 3:
        return "A fini avec courage pour une place."
    return "N'a pu jouer un rôle."


def performances_text(world: World, race: Race) -> str:
    """performances-detaillees/pretty: each runner's last five runs before the day."""
    allure = cat.ALLURE[race.circuit.kind]
    items = []
    for i, h in enumerate(race.horses):
        name = world.name[int(h)].replace("\\", "\\\\").replace('"', '\\"')
        items.append(
            f'{{"numPmu":{i + 1},"nomCheval":"{name}","coursesCourues":{world.past_performances(int(h))}}}'
        )
    return f'{{"allure":"{allure}","participants":[' + ",".join(items) + "]}"


# ---------------------------------------------------------------------------- rapports
def _combo(nums: list[int]) -> str:
    return "-".join(str(n) for n in nums)


def _row(libelle: str, per_euro: int, combinaison: str, mise: int, unit: str, winners: float) -> dict:
    per_base = per_euro * mise // 100
    return {
        "libelle": libelle,
        "dividende": per_base if unit == "PourUneMiseDeBase" else per_euro,
        "dividendePourUnEuro": per_euro,
        "combinaison": combinaison,
        "nombreGagnants": winners,
        "dividendePourUneMiseDeBase": per_base,
        "dividendeUnite": unit,
    }


def _bet(bet: str, famille: str, unit: str, rows: list[dict]) -> dict:
    return {
        "typePari": bet,
        "miseBase": BET_TYPES[bet][0],
        "rembourse": False,
        "rapports": rows,
        "audience": "NATIONAL",
        "famillePari": famille,
        "dividendeUnite": unit,
    }


def _unordered(q: np.ndarray, idx: list[int]) -> float:
    return sum(harville(q, perm) for perm in itertools.permutations(idx))


def rapports_body(race: Race, quinte: bool) -> list[dict] | None:
    """rapports-definitifs of a finished race: dividends from the final pools (the market's view,
    not the truth), with PMU's bet types and rows (several rows per bet type where PMU has them)."""
    if race.cancelled or not race.order:
        return None
    q = race.q_final
    flat = [n - 1 for group in race.order for n in group]  # indices in arrival order
    starters = int((~race.non_runner).sum())
    volume = 2000.0 + race.prize / 5.0  # stake units in the pools, bigger for rich races
    out = []
    types = bet_types(race, quinte)
    winners = [n - 1 for n in race.order[0]]
    rows = []
    for w in winners:  # a dead heat for first pays each winner on its share of the pool
        per_euro = dividend_cents(q[w] * len(winners), 0.15)
        rows.append(
            _row("Simple gagnant", per_euro, str(w + 1), 200, "PourUnEuro", round(volume * 10 * q[w], 2))
        )
    out.append(_bet("SIMPLE_GAGNANT", "Simple", "PourUnEuro", rows))
    n_places = 3 if starters >= 8 else 2
    if starters >= 4 and len(flat) >= n_places:
        placed = flat[:n_places]
        stakes = np.minimum(1.0, n_places * q)
        net = 0.85 * stakes.sum()
        rows = []
        for i in placed:
            per_euro = int(100 * (1 + max(0.1, (net - stakes[placed].sum()) / (n_places * stakes[i]))))
            per_euro = max(110, per_euro - per_euro % 10)
            rows.append(
                _row(
                    "Simple placé", per_euro, str(i + 1), 200, "PourUnEuro", round(volume * 5 * stakes[i], 2)
                )
            )
        out.append(_bet("SIMPLE_PLACE", "Simple", "PourUnEuro", rows))
    if len(flat) >= 2:
        a, b = flat[0], flat[1]
        prob = _unordered(q, [a, b])
        out.append(
            _bet(
                "COUPLE_GAGNANT",
                "Couple",
                "PourUnEuro",
                [
                    _row(
                        "Couplé gagnant",
                        dividend_cents(prob, 0.25),
                        _combo([a + 1, b + 1]),
                        200,
                        "PourUnEuro",
                        round(volume * 2 * prob, 2),
                    )
                ],
            )
        )
    if starters >= 4 and len(flat) >= 3:
        rows = []
        for a, b in itertools.combinations(flat[:3], 2):
            prob = min(0.9, 3 * _unordered(q, [a, b]))
            rows.append(
                _row(
                    "Couplé placé",
                    dividend_cents(prob, 0.25) // 1,
                    _combo([a + 1, b + 1]),
                    200,
                    "PourUnEuro",
                    round(volume * prob, 2),
                )
            )
        out.append(_bet("COUPLE_PLACE", "Couple", "PourUnEuro", rows))
    if "DEUX_SUR_QUATRE" in types and len(flat) >= 4:
        prob = min(0.9, 6 * _unordered(q, flat[:2]))
        per_euro = dividend_cents(prob, 0.25)
        rows = [
            _row("2sur4", per_euro, _combo([a + 1, b + 1]), 300, "PourUneMiseDeBase", round(volume * prob, 2))
            for a, b in itertools.combinations(flat[:4], 2)
        ]
        out.append(_bet("DEUX_SUR_QUATRE", "2sur4", "PourUneMiseDeBase", rows))
    if "TRIO" in types and len(flat) >= 3:
        prob = _unordered(q, flat[:3])
        out.append(
            _bet(
                "TRIO",
                "Trio",
                "PourUnEuro",
                [
                    _row(
                        "Trio",
                        dividend_cents(prob, 0.25),
                        _combo([i + 1 for i in flat[:3]]),
                        200,
                        "PourUnEuro",
                        round(volume * prob, 2),
                    )
                ],
            )
        )
    if "MULTI" in types and len(flat) >= 4:
        prob = _unordered(q, flat[:4])
        base = dividend_cents(prob, 0.3)
        rows = [
            _row(
                f"Multi en {k}",
                max(110, (base // cover) - (base // cover) % 10),
                _combo([i + 1 for i in flat[:4]]),
                300,
                "PourUneMiseDeBase",
                round(volume * prob * cover, 2),
            )
            for k, cover in ((4, 1), (5, 5), (6, 15), (7, 35))
        ]
        out.append(_bet("MULTI", "Multi", "PourUneMiseDeBase", rows))
    if quinte and len(flat) >= 5:
        for bet, k, famille, unit, mise in (
            ("TIERCE", 3, "Tierce", "PourUnEuro", 100),
            ("QUARTE_PLUS", 4, "Quarte Plus", "PourUneMiseDeBase", 150),
            ("QUINTE_PLUS", 5, "Quinte Plus", "PourUneMiseDeBase", 200),
        ):
            top = flat[:k]
            combo = _combo([i + 1 for i in top])
            p_order = harville(q, top)
            p_any = _unordered(q, top)
            rows = [
                _row(
                    "Ordre", dividend_cents(p_order, 0.35), combo, mise, unit, round(volume * 20 * p_order, 2)
                ),
                _row(
                    "Désordre", dividend_cents(p_any, 0.35), combo, mise, unit, round(volume * 20 * p_any, 2)
                ),
            ]
            if bet == "QUARTE_PLUS":
                p3 = _unordered(q, flat[:3])
                rows.append(
                    _row(
                        "Bonus",
                        dividend_cents(min(0.9, p3 * 4), 0.35),
                        _combo([i + 1 for i in flat[:3]]),
                        mise,
                        unit,
                        round(volume * 20 * p3, 2),
                    )
                )
            if bet == "QUINTE_PLUS":
                p4 = _unordered(q, flat[:4])
                bonus4 = dividend_cents(min(0.9, p4 * 20), 0.35)
                for four in itertools.combinations(top, 4):
                    rows.append(
                        _row(
                            "Bonus 4sur5",
                            bonus4,
                            _combo([i + 1 for i in four]),
                            mise,
                            unit,
                            round(volume * 20 * p4, 2),
                        )
                    )
                p3 = _unordered(q, flat[:3])
                rows.append(
                    _row(
                        "Bonus 3",
                        dividend_cents(min(0.9, p3 * 10), 0.35),
                        _combo([i + 1 for i in flat[:3]]),
                        mise,
                        unit,
                        round(volume * 20 * p3, 2),
                    )
                )
            out.append(_bet(bet, famille, unit, rows))
    return out


def capture_times(day: date, rng: np.random.Generator) -> tuple[datetime, datetime]:
    """(morning, evening) capture moments of a day, Paris time."""
    morning = datetime(
        day.year, day.month, day.day, 9, int(rng.integers(0, 10)), int(rng.integers(0, 60)), tzinfo=PARIS
    )
    evening = datetime(
        day.year,
        day.month,
        day.day,
        23,
        30 + int(rng.integers(0, 16)),
        int(rng.integers(0, 60)),
        tzinfo=PARIS,
    )
    return morning, evening
