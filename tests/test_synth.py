"""Synthetic PMU days: determinism, the truth, the market, the two snapshots, history consistency,
units, the CLI and the replay server on the output."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import requests

import synth
from pmu_cli.main import main as pmu_main

PARIS = ZoneInfo("Europe/Paris")
START, END = date(2025, 10, 20), date(2025, 11, 18)  # 30 days across the October DST change
TAKEOUT = 0.15


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "days"
    synth.generate(START, END, out, seed=11, meetings_per_day=7, burn_in_days=60)
    return out


def _key(day: date) -> str:
    return day.strftime("%d%m%Y")


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _races(root: Path):
    """(day, reunion, course) of every race under a snapshot root."""
    for day in (START + timedelta(days=k) for k in range((END - START).days + 1)):
        programme = _load(root / f"{_key(day)}.json")
        for reunion in programme["programme"]["reunions"]:
            for course in reunion["courses"]:
                yield day, reunion, course


def _participants(root: Path, day: date, reunion: dict, course: dict) -> list[dict]:
    path = root / _key(day) / f"R{reunion['numOfficiel']}" / f"C{course['numOrdre']}" / "participants.json"
    return _load(path)["participants"]


def _truth(root: Path) -> dict[str, dict[int, float]]:
    truth: dict[str, dict[int, float]] = defaultdict(dict)
    for path in sorted((root / "truth").glob("*.csv")):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                truth[row["race_id"]][int(row["numPmu"])] = float(row["p_true"])
    return truth


def _race_id(day: date, reunion: dict, course: dict) -> str:
    return f"{day.isoformat()}-R{reunion['numOfficiel']}-C{course['numOrdre']}"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_other_seed_other_days(tmp_path):
    kwargs = dict(meetings_per_day=3, burn_in_days=20)
    synth.generate(date(2025, 3, 1), date(2025, 3, 3), tmp_path / "a", seed=5, **kwargs)
    synth.generate(date(2025, 3, 1), date(2025, 3, 3), tmp_path / "b", seed=5, **kwargs)
    synth.generate(date(2025, 3, 1), date(2025, 3, 3), tmp_path / "c", seed=6, **kwargs)
    a, b, c = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert len(a) > 50
    assert a == b
    assert a["truth/01032025.csv"] != c["truth/01032025.csv"]


def test_rewriting_a_folder_leaves_no_stale_race(tmp_path):
    """A smaller world written over a bigger one gives exactly the smaller world's files."""
    day = date(2025, 4, 2)
    synth.generate(day, day, tmp_path / "reused", seed=1, meetings_per_day=8, burn_in_days=5)
    synth.generate(day, day, tmp_path / "reused", seed=1, meetings_per_day=1, burn_in_days=5)
    synth.generate(day, day, tmp_path / "fresh", seed=1, meetings_per_day=1, burn_in_days=5)
    assert _tree(tmp_path / "reused") == _tree(tmp_path / "fresh")


def test_layout_of_both_snapshots_and_the_truth(days):
    key = _key(START)
    assert (days / f"{key}.json").is_file() and (days / "morning" / f"{key}.json").is_file()
    assert (days / "truth" / f"{key}.csv").is_file()
    race_dirs = sorted((days / key).glob("R*/C*"))
    assert race_dirs
    for race_dir in race_dirs:
        assert (race_dir / "participants.json").is_file()
        assert (race_dir / "performances-detaillees" / "pretty.json").is_file()
        morning = days / "morning" / race_dir.relative_to(days)
        assert (morning / "participants.json").is_file()
        assert (morning / "performances-detaillees" / "pretty.json").is_file()
        assert not (morning / "rapports-definitifs.json").exists()
    finals = _load(days / "_captured_at.json")
    mornings = _load(days / "morning" / "_captured_at.json")
    assert set(finals) == set(mornings) == {_key(START + timedelta(days=k)) for k in range(30)}
    for day_key, text in mornings.items():
        moment = datetime.fromisoformat(text).astimezone(PARIS)
        assert moment.strftime("%d%m%Y") == day_key and 8 <= moment.hour <= 10
        assert datetime.fromisoformat(finals[day_key]).astimezone(PARIS).hour >= 21


# ---------------------------------------------------------------------------- the truth
def test_true_probabilities_sum_to_one_and_cover_every_finished_race(days):
    truth = _truth(days)
    finished, cancelled = set(), set()
    for day, reunion, course in _races(days):
        race_id = _race_id(day, reunion, course)
        (cancelled if course["statut"] == "COURSE_ANNULEE" else finished).add(race_id)
        if race_id in truth:
            runners = _participants(days, day, reunion, course)
            assert set(truth[race_id]) == {p["numPmu"] for p in runners}
            for p in runners:  # a non-runner has no chance
                if p["statut"] == "NON_PARTANT":
                    assert truth[race_id][p["numPmu"]] == 0.0
    assert finished == set(truth)
    assert cancelled and not cancelled & set(truth)
    for race_id, probs in truth.items():
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-6), race_id


def test_read_truth_reads_one_day_or_all(days):
    every = synth.read_truth(days)
    first = synth.read_truth(days, START)
    assert first and set(first) < set(every)
    assert all(race_id.startswith(START.isoformat()) for race_id in first)
    assert first == {k: v for k, v in _truth(days).items() if k.startswith(START.isoformat())}
    with pytest.raises(FileNotFoundError):
        synth.read_truth(days, END + timedelta(days=1))


def test_truth_is_written_beside_the_bodies_never_inside(days):
    truth = _truth(days)
    some = next(iter(truth.values()))
    needle = f"{max(some.values()):.10f}".encode()
    for path in list(days.glob("*.json")) + list((days / _key(START)).rglob("*.json")):
        text = path.read_bytes()
        assert b"p_true" not in text and needle not in text


def test_winner_frequencies_match_the_true_probabilities(days):
    """Calibration over ~1,300 races: per decile of true probability, the winners counted in the
    final bodies stay within 4 standard errors of the sum of the probabilities."""
    truth = _truth(days)
    probs, won = [], []
    for day, reunion, course in _races(days):
        if "ordreArrivee" not in course:
            continue
        race_id = _race_id(day, reunion, course)
        winners = course["ordreArrivee"][0]
        for num, p in truth[race_id].items():
            if p > 0:
                probs.append(p)
                won.append(1.0 / len(winners) if num in winners else 0.0)  # dead heat: shared win
    probs, won = np.array(probs), np.array(won)
    assert len(probs) > 10_000
    edges = np.quantile(probs, np.linspace(0, 1, 11))
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (probs >= low) & (probs <= high)
        expected, observed = probs[in_bin].sum(), won[in_bin].sum()
        sd = np.sqrt((probs[in_bin] * (1 - probs[in_bin])).sum())
        assert abs(observed - expected) < 4 * sd + 1, (low, high, observed, expected)
    # and the truth is far from uniform: favourites do win more
    top = probs > 0.3
    assert won[top].mean() > 0.3 > won[probs < 0.05].mean() * 5


# ---------------------------------------------------------------------------- the market
def _final_market(days):
    """Per finished race: numPmu -> final decimal odds of the starters, and the truth."""
    truth = _truth(days)
    for day, reunion, course in _races(days):
        if "ordreArrivee" not in course:
            continue
        odds = {
            p["numPmu"]: p["dernierRapportDirect"]["rapport"]
            for p in _participants(days, day, reunion, course)
            if p["statut"] == "PARTANT" and "dernierRapportDirect" in p
        }
        yield odds, truth[_race_id(day, reunion, course)], course["ordreArrivee"][0]


def test_market_implied_probabilities_sum_to_about_one_over_one_minus_takeout(days):
    sums = [sum(1.0 / o for o in odds.values()) for odds, _, _ in _final_market(days) if len(odds) >= 4]
    assert len(sums) > 1000
    assert np.median(sums) == pytest.approx(1 / (1 - TAKEOUT), abs=0.02)
    assert np.quantile(sums, 0.1) > 1.1 and np.quantile(sums, 0.9) < 1.25


def test_market_is_informative_biased_and_beatable(days):
    ll_market = ll_truth = ll_uniform = 0.0
    longshot_market = longshot_truth = 0.0
    for odds, truth, winners in _final_market(days):
        if len(odds) < 4 or len(winners) > 1:
            continue
        nums = sorted(odds)
        inv = np.array([1.0 / odds[n] for n in nums])
        q = inv / inv.sum()  # overround removed
        p = np.array([truth[n] for n in nums])
        w = nums.index(winners[0])
        ll_market += np.log(q[w])
        ll_truth += np.log(p[w])
        ll_uniform += np.log(1.0 / len(nums))
        longshots = q < 0.04
        longshot_market += q[longshots].sum()
        longshot_truth += p[longshots].sum()
    pseudo_r2_market = 1 - ll_market / ll_uniform
    assert 0.1 < pseudo_r2_market < 0.3  # informative, like the real market's 0.195
    assert ll_truth > ll_market  # beatable: the truth knows more than the crowd
    # favourite-longshot bias: the crowd over-bets its longshots (without the bias, selecting on a
    # noisy low price picks runners the crowd under-rates, and this ratio falls to about 0.8)
    assert longshot_market > 1.05 * longshot_truth


def test_simple_gagnant_dividend_matches_the_final_odds(days):
    checked = 0
    for day, reunion, course in _races(days):
        if "ordreArrivee" not in course or len(course["ordreArrivee"][0]) > 1:
            continue
        path = days / _key(day) / f"R{reunion['numOfficiel']}" / f"C{course['numOrdre']}"
        rapports = {b["typePari"]: b for b in _load(path / "rapports-definitifs.json")}
        winner = course["ordreArrivee"][0][0]
        odds = {
            p["numPmu"]: p["dernierRapportDirect"]["rapport"]
            for p in _participants(days, day, reunion, course)
            if "dernierRapportDirect" in p and p["statut"] == "PARTANT"
        }
        row = rapports["SIMPLE_GAGNANT"]["rapports"][0]
        assert row["combinaison"] == str(winner)
        assert row["dividendePourUnEuro"] % 10 == 0
        # dividend in cents per euro is the odds (rounded for display) times 100
        assert abs(row["dividendePourUnEuro"] - 100 * odds[winner]) <= max(20, 6 * odds[winner])
        checked += 1
    assert checked > 1000


# ---------------------------------------------------------------------------- snapshots
def test_morning_snapshot_knows_nothing_of_the_results(days):
    morning = days / "morning"
    captured = {k: datetime.fromisoformat(v) for k, v in _load(morning / "_captured_at.json").items()}
    seen_odds = 0
    for day, reunion, course in _races(morning):
        assert course["statut"] == "PROGRAMMEE" and reunion["statut"] == "PROGRAMMEE"
        for post_race in ("ordreArrivee", "dureeCourse", "incidents", "arriveeDefinitive"):
            assert post_race not in course
        capture_ms = captured[_key(day)].timestamp() * 1000
        assert course["heureDepart"] > capture_ms
        for p in _participants(morning, day, reunion, course):
            for post_race in (
                "ordreArrivee",
                "tempsObtenu",
                "reductionKilometrique",
                "commentaireApresCourse",
                "distanceChevalPrecedent",
            ):
                assert post_race not in p
            assert p.get("incident") in (None, "NON_PARTANT")
            for key in ("dernierRapportDirect", "dernierRapportReference"):
                if key in p:
                    assert p[key]["dateRapport"] < min(course["heureDepart"], capture_ms)
                    seen_odds += 1
    assert seen_odds > 10_000


def test_final_snapshot_has_results_and_the_morning_its_pre_race_facts(days):
    statuses, incidents, dead_heats, non_runners_late = set(), set(), 0, 0
    for day, reunion, course in _races(days):
        statuses.add(course["statut"])
        finals = _participants(days, day, reunion, course)
        mornings = _participants(days / "morning", day, reunion, course)
        assert [p["numPmu"] for p in finals] == [p["numPmu"] for p in mornings]
        for f, m in zip(finals, mornings, strict=True):
            for pre_race in ("nom", "musique", "nombreCourses", "gainsParticipant", "driver", "age"):
                assert f[pre_race] == m[pre_race]
            non_runners_late += f["statut"] == "NON_PARTANT" and m["statut"] == "PARTANT"
            incidents.add(f.get("incident"))
        if course["statut"] == "COURSE_ANNULEE":
            assert "ordreArrivee" not in course
            continue
        order = course["ordreArrivee"]
        dead_heats += any(len(group) > 1 for group in order)
        by_num = {p["numPmu"]: p for p in finals}
        place = 1
        for group in order:  # places follow the list of lists; a dead heat shares one place
            for num in group:
                assert by_num[num]["ordreArrivee"] == place and by_num[num]["statut"] == "PARTANT"
            place += len(group)
    assert {"ARRIVEE_DEFINITIVE_COMPLETE", "FIN_COURSE", "COURSE_ANNULEE"} <= statuses
    assert {"NON_PARTANT", "DISQUALIFIE_POUR_ALLURE_IRREGULIERE"} <= incidents
    assert dead_heats > 3 and non_runners_late > 3


def test_variety_of_disciplines_meetings_and_bets(days):
    disciplines, countries, bets, libelles = set(), set(), set(), set()
    for day, reunion, course in _races(days):
        disciplines.add(course["discipline"])
        countries.add(reunion["pays"]["code"])
        if "ordreArrivee" in course:
            path = days / _key(day) / f"R{reunion['numOfficiel']}" / f"C{course['numOrdre']}"
            for bet in _load(path / "rapports-definitifs.json"):
                bets.add(bet["typePari"])
                libelles.update(r["libelle"] for r in bet["rapports"])
    assert disciplines == {"ATTELE", "MONTE", "PLAT", "HAIE", "STEEPLECHASE", "CROSS"}
    assert "FRA" in countries and len(countries) >= 4
    assert {
        "SIMPLE_GAGNANT",
        "SIMPLE_PLACE",
        "COUPLE_GAGNANT",
        "COUPLE_PLACE",
        "DEUX_SUR_QUATRE",
        "TRIO",
        "MULTI",
        "TIERCE",
        "QUARTE_PLUS",
        "QUINTE_PLUS",
    } <= bets
    assert {"Ordre", "Désordre", "Bonus 4sur5", "Multi en 7"} <= libelles


# ---------------------------------------------------------------------------- history and units
def test_past_performances_musique_and_earnings_follow_the_simulated_history(days):
    """A horse seen twice: its second race's past performances start with its first race, with the
    place it got there; its musique starts with that place; its race count and earnings grew."""
    last_seen: dict[str, tuple] = {}
    checked = 0
    for day, reunion, course in _races(days):
        runners = _participants(days, day, reunion, course)
        race_dir = days / _key(day) / f"R{reunion['numOfficiel']}" / f"C{course['numOrdre']}"
        perfs = {
            p["numPmu"]: p
            for p in _load(race_dir / "performances-detaillees" / "pretty.json")["participants"]
        }
        for p in runners:
            before = last_seen.get(p["nom"])
            past = perfs[p["numPmu"]]["coursesCourues"]
            assert [c["date"] for c in past] == sorted((c["date"] for c in past), reverse=True)
            day_ms = datetime(day.year, day.month, day.day, tzinfo=PARIS).timestamp() * 1000
            assert all(c["date"] < day_ms for c in past)  # only races before the day
            if before is not None and before[0] < day:
                prev_day, prev_course, prev_p = before
                prev_ran = prev_course.get("ordreArrivee") is not None and prev_p["statut"] == "PARTANT"
                if prev_ran:
                    latest = past[0]
                    assert latest["nomPrix"] == prev_course["libelle"]
                    prev_midnight = datetime(prev_day.year, prev_day.month, prev_day.day, tzinfo=PARIS)
                    assert latest["date"] == prev_midnight.timestamp() * 1000
                    me = [q for q in latest["participants"] if q["itsHim"]]
                    assert len(me) == 1 and me[0]["nomCheval"] == p["nom"]
                    assert me[0]["place"]["place"] == prev_p.get("ordreArrivee")
                    assert p["nombreCourses"] == prev_p["nombreCourses"] + 1
                    gained = (
                        p["gainsParticipant"]["gainsCarriere"] - prev_p["gainsParticipant"]["gainsCarriere"]
                    )
                    place = prev_p.get("ordreArrivee")
                    assert (gained > 0) == (place is not None and place <= 5)
                    code = p["musique"][0]
                    if place is not None:
                        assert code == (str(place) if place <= 9 else "0")
                    if "reductionKilometrique" in prev_p:  # ms/km in participants, 1/100 s in perfs
                        assert me[0]["reductionKilometrique"] * 10 == prev_p["reductionKilometrique"]
                    checked += 1
            last_seen[p["nom"]] = (day, course, p)
    assert checked > 500


def test_units_and_paris_time(days):
    for day, reunion, course in _races(days):
        start = datetime.fromtimestamp(course["heureDepart"] / 1000, PARIS)
        assert start.date() == day  # epoch ms whose Paris date is the race day
        midnight = datetime(day.year, day.month, day.day, tzinfo=PARIS)
        assert reunion["dateReunion"] == midnight.timestamp() * 1000
        offset = start.utcoffset().total_seconds() * 1000
        assert course["timezoneOffset"] == offset
        if "penetrometre" in course and "valeurMesure" in course["penetrometre"]:
            assert re.fullmatch(r"\d,\d", course["penetrometre"]["valeurMesure"])
        if course["statut"] == "COURSE_ANNULEE" or day.day % 5:
            continue
        for p in _participants(days, day, reunion, course):
            gains = p["gainsParticipant"]
            assert gains["gainsCarriere"] == gains["gainsVictoires"] + gains["gainsPlace"]
            if "reductionKilometrique" in p:
                assert 60_000 < p["reductionKilometrique"] < 100_000  # ms per km
                assert p["tempsObtenu"] == pytest.approx(
                    p["reductionKilometrique"] * p["handicapDistance"] / 1000, rel=0.01
                )
    # the day of the October change is 25 hours long: offsets differ on either side
    before = _load(days / "25102025.json")["programme"]["timezoneOffset"]
    after = _load(days / "27102025.json")["programme"]["timezoneOffset"]
    assert (before, after) == (7_200_000, 3_600_000)


# ---------------------------------------------------------------------------- CLI and replay
def test_cli_writes_days_and_rejects_bad_input(tmp_path, capsys):
    out = tmp_path / "cli"
    code = pmu_main(
        [
            "synth",
            "--start",
            "2025-06-01",
            "--days",
            "2",
            "--out",
            str(out),
            "--seed",
            "3",
            "--meetings-per-day",
            "2",
            "--burn-in-days",
            "5",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["days"] == 2 and summary["races"] > 0
    assert sorted(p.name for p in (out / "truth").iterdir()) == ["01062025.csv", "02062025.csv"]
    assert pmu_main(["synth", "--start", "2025-06-05", "--end", "2025-06-01", "--out", str(out)]) == 2
    assert "before start" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        pmu_main(["synth", "--start", "2025-13-01", "--days", "1", "--out", str(out)])
    assert "not a date" in capsys.readouterr().err


def test_replay_server_serves_synthetic_days_with_their_capture_time(days, replay_server):
    base = replay_server(days)
    key = _key(START)
    programme = requests.get(f"{base}/rest/client/1/programme/{key}", timeout=10)
    assert programme.status_code == 200
    course = programme.json()["programme"]["reunions"][0]["courses"][0]
    captured = datetime.fromisoformat(_load(days / "_captured_at.json")[key])
    as_http = captured.astimezone(ZoneInfo("UTC")).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert programme.headers["Date"] == as_http
    path = f"{key}/R1/C{course['numOrdre']}"
    participants = requests.get(f"{base}/rest/client/1/programme/{path}/participants", timeout=10)
    assert participants.status_code == 200 and participants.json()["participants"]
    perfs = requests.get(f"{base}/rest/client/1/programme/{path}/performances-detaillees/pretty", timeout=10)
    assert perfs.status_code == 200 and "coursesCourues" in perfs.text
    missing = requests.get(f"{base}/rest/client/1/programme/{_key(END + timedelta(days=1))}", timeout=10)
    assert missing.status_code == 204
