"""Leakage guards of the point-in-time feature marts (issue 7, part 6), on real recorded days.

Real days of `../shared/pmu/history/` go through the real extractor over HTTP (replay server) in
the order a live system sees them (morning snapshot, then final), and dbt builds the marts for real.
One warehouse is staged for the module; its snapshots of day D's feature rows are compared:

  (d) after landing only D's morning  ==  after landing a poisoned post-race snapshot of D
      ==  after landing D's real final snapshot (results, final odds, changed starts...);
  (a) ... == after landing the days after D and rebuilding D with a one-day window;
  (c) the jockey / horse counts of D+1's rows equal counts computed here from the JSON files
      of the days before D+1 (so the race itself and the same day are never counted);
  (b) no upstream model of the features reads a post-race field except the history, and every
      read of the history is bounded to race days before the race; plus a data check that no
      feature picks winners the way only a post-race field could.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from psycopg2 import sql

from extract.client import ClientConfig
from extract.ingest import ingest_day
from pmu_core import db, dbt
from pmu_core.replay_server import ReplayServerThread

pytestmark = pytest.mark.slow  # builds a warehouse from the real days: not in the fast tier

FEATURE_SELECT = ["+feat_runner_pre_race", "+fct_runner_result"]
BEFORE = ["03112025", "04112025", "05112025"]  # history landed before day D
DAY = "06112025"  # D: morning captured 09:45 Paris, before every race of the day
AFTER = ["07112025", "08112025"]
# after D's last start (22:55 Paris, 23:05 once poisoned) and before its real final capture (23:15)
POISON_SERVED_AT = "2025-11-06T23:10:00+01:00"

# Fields of the API known only after the race (../shared/pmu/README.md), and the staging/core
# columns carrying them.
POST_RACE_JSON_KEYS = (
    "ordreArrivee",
    "tempsObtenu",
    "reductionKilometrique",
    "incident",
    "commentaireApresCourse",
    "dureeCourse",
    "distanceChevalPrecedent",
    "rapports",
)
POST_RACE_COLUMNS = (
    "finish_place",
    "finish_time_s",
    "reduction_km_s",
    "incident",
    "race_comment",
    "distance_to_previous",
    "is_winner",
    "final_odds",
    "duration_s",
    "has_result",
    "dividend",
    "seconds_per_km",
)
POINT_IN_TIME_MODELS = ("int_race_pit", "int_runner_pit")
HISTORY_MODEL = "int_runner_outcome"
HISTORY_GUARD = "hist.race_date < runner.race_date"
PAST_FORM_MODEL = "int_past_form"  # the race's own performances-detaillees, earlier days only
PAST_FORM_GUARD = "perf.past_race_date < perf.race_date"
ODDS_GUARD = "case when is_pre_cutoff and odds_direct > 1 then odds_direct end"


# ---- pure helpers --------------------------------------------------------------------------------


def day_of(ddmmyyyy: str) -> date:
    return date(int(ddmmyyyy[4:]), int(ddmmyyyy[2:4]), int(ddmmyyyy[:2]))


def person_key(name: str | None) -> str | None:
    """The warehouse's person key, written independently: upper case, blanks collapsed."""
    if name is None or not name.strip():
        return None
    return re.sub(r"\s+", " ", name.strip()).upper()


def poison_programme(body: dict) -> dict:
    """A post-race programme whose post-race fields are all different and whose start times moved
    10 minutes later: none of it may reach the day's features."""
    out = copy.deepcopy(body)
    for meeting in out["programme"]["reunions"]:
        for race in meeting["courses"]:
            runners = sorted({n for group in race.get("ordreArrivee") or [] for n in group}) or [1, 2, 3]
            race["ordreArrivee"] = [[n] for n in reversed(runners)]
            race["dureeCourse"] = 99_999
            race["incidents"] = [{"type": "TOMBE", "numeroParticipants": runners[:1]}]
            race["statut"] = "FIN_COURSE"
            race["heureDepart"] = race["heureDepart"] + 10 * 60_000
            if race.get("penetrometre"):
                race["penetrometre"] = {**race["penetrometre"], "valeurMesure": "9,9"}
    return out


def poison_participants(body: dict) -> dict:
    """A post-race participants body where results, odds, statuses, drivers and the career
    figures (updated as if each horse had just won) all changed."""
    out = copy.deepcopy(body)
    runners = out["participants"]
    for i, runner in enumerate(runners):
        runner["ordreArrivee"] = len(runners) - i
        runner["tempsObtenu"] = 100_000 + i
        runner["reductionKilometrique"] = 60_000 + i
        runner["incident"] = "DISQUALIFIE_POUR_ALLURE_IRREGULIERE" if i % 3 == 0 else None
        runner["commentaireApresCourse"] = {"texte": "poison", "source": "TEST"}
        runner["dernierRapportDirect"] = {"typePari": "SIMPLE_GAGNANT", "rapport": 1.5 + i}
        runner["dernierRapportReference"] = {"typePari": "SIMPLE_GAGNANT", "rapport": 2.5 + i}
        runner["statut"] = "NON_PARTANT" if i == 0 else "PARTANT"
        runner["driver"] = f"POISON DRIVER {i}"
        runner["nombreCourses"] = (runner.get("nombreCourses") or 0) + 1
        runner["nombreVictoires"] = (runner.get("nombreVictoires") or 0) + 1
        runner["musique"] = "1a" + (runner.get("musique") or "")
        gains = runner.setdefault("gainsParticipant", {})
        gains["gainsCarriere"] = (gains.get("gainsCarriere") or 0) + 10_000_000
    return out


def write_poisoned_day(final_root: Path, day: str, out_root: Path, served_at: str) -> None:
    """Replay layout of `day` under out_root, poisoned, with its capture time."""
    (out_root / day).mkdir(parents=True)
    (out_root / "_captured_at.json").write_text(json.dumps({day: served_at}))
    programme = json.loads((final_root / f"{day}.json").read_text())
    (out_root / f"{day}.json").write_text(json.dumps(poison_programme(programme)))
    for path in (final_root / day).glob("R*/C*/participants.json"):
        target = out_root / path.relative_to(final_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(poison_participants(json.loads(path.read_text()))))


def history_counts(final_root: Path, days: list[str]) -> tuple[dict, dict]:
    """Starts and wins per jockey and starts per horse (idCheval) over the final snapshots of
    `days`, read straight from the JSON files: a start is a declared runner that is not a
    non-runner in a race that has a finishing order."""
    jockey: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    horse: dict[str, int] = defaultdict(int)
    for day in days:
        programme = json.loads((final_root / f"{day}.json").read_text())["programme"]
        for meeting in programme["reunions"]:
            for race in meeting["courses"]:
                race_dir = final_root / day / f"R{meeting['numOfficiel']}" / f"C{race['numOrdre']}"
                path = race_dir / "participants.json"
                if not path.exists():
                    continue
                runners = json.loads(path.read_text())["participants"]
                order = race.get("ordreArrivee") or []
                if not order and not any(r.get("ordreArrivee") for r in runners):
                    continue  # not run (yet): no outcome
                if order:
                    winners = set(order[0])
                else:
                    winners = {r["numPmu"] for r in runners if r.get("ordreArrivee") == 1}
                for runner in runners:
                    if "NON_PARTANT" in (runner.get("statut"), runner.get("incident")):
                        continue
                    key = person_key(runner.get("driver") or runner.get("jockey"))
                    if key:
                        jockey[key][0] += 1
                        jockey[key][1] += runner["numPmu"] in winners
                    if runner.get("idCheval"):
                        horse[runner["idCheval"]] += 1
    return dict(jockey), dict(horse)


def connection_counts(final_root: Path, days: list[str]) -> dict[tuple, list[int]]:
    """Starts and wins of each trainer at each racecourse and of each horse (idCheval) with each
    jockey over the final snapshots of `days`, read straight from the JSON files (a start as in
    history_counts; the racecourse is the race's own code, else its meeting's)."""
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for day in days:
        programme = json.loads((final_root / f"{day}.json").read_text())["programme"]
        for meeting in programme["reunions"]:
            for race in meeting["courses"]:
                race_dir = final_root / day / f"R{meeting['numOfficiel']}" / f"C{race['numOrdre']}"
                path = race_dir / "participants.json"
                if not path.exists():
                    continue
                runners = json.loads(path.read_text())["participants"]
                order = race.get("ordreArrivee") or []
                if not order and not any(r.get("ordreArrivee") for r in runners):
                    continue
                winners = (
                    set(order[0]) if order else {r["numPmu"] for r in runners if r.get("ordreArrivee") == 1}
                )
                course = (race.get("hippodrome") or {}).get("codeHippodrome") or meeting["hippodrome"]["code"]
                for runner in runners:
                    if "NON_PARTANT" in (runner.get("statut"), runner.get("incident")):
                        continue
                    won = runner["numPmu"] in winners
                    trainer = person_key(runner.get("entraineur"))
                    jockey = person_key(runner.get("driver") or runner.get("jockey"))
                    keys = []
                    if trainer:
                        keys.append(("trainer_hippodrome", trainer, course))
                    if jockey and runner.get("idCheval"):
                        keys.append(("horse_jockey", f"id:{runner['idCheval']}", jockey))
                    for key in keys:
                        counts[key][0] += 1
                        counts[key][1] += won
    return dict(counts)


def unguarded_post_race_reads(compiled_sql: str, *, allow_history: bool) -> list[str]:
    """Post-race fields a model's compiled SQL reads outside the allowed paths: market odds under
    the cut-off guard and (for the feature mart) the history bounded to earlier race days."""
    problems = []
    sql = compiled_sql.replace(ODDS_GUARD, "")
    if allow_history:
        reads, guards = sql.count(HISTORY_MODEL), sql.count(HISTORY_GUARD)
        if reads != guards:
            problems.append(f"{reads} reads of {HISTORY_MODEL} but {guards} bounded by '{HISTORY_GUARD}'")
        # what the bounded history gives is allowed: drop the qualified history columns
        sql = re.sub(r"\b(hist|last_run|past_form)\.\w+", "", sql)
    for term in (*POST_RACE_JSON_KEYS, *POST_RACE_COLUMNS, "odds_direct", "pmu_rapports", "pmu_performances"):
        if re.search(rf"\b{term}\b", sql):
            problems.append(term)
    return problems


# ---- the staged warehouse ------------------------------------------------------------------------


def run_dbt(env: dict[str, str], tmp: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # Own target/log folders: other people may run dbt in the same checkout at the same time.
    return dbt.run_dbt(env["PMU_DATABASE_URL"], *args, target_dir=tmp, check=check)


def query(url: str, statement, params: tuple = ()) -> list[tuple]:
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def feature_rows(url: str, day: date) -> list[tuple]:
    return query(
        url, "select * from marts.feat_runner_pre_race where race_date = %s order by race_id, num_pmu", (day,)
    )


def land(url: str, root: Path, day: str) -> None:
    with ReplayServerThread(root) as server:
        config = ClientConfig(base_url=server.base_url, requests_per_second=None)
        report = ingest_day(day_of(day), config=config, db_url=url)
    assert not report.failed, report.failed


@pytest.fixture(scope="module")
def staged(shared_pmu, databases, tmp_path_factory):
    history = shared_pmu / "history"
    name, url = databases.create("t_feat")
    tmp = tmp_path_factory.mktemp("features")
    env = {
        **os.environ,
        **db.dbt_env(url),
        "PMU_DATABASE_URL": url,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    build = ["run", "--select", *FEATURE_SELECT]
    d = day_of(DAY)
    stages = {}
    try:
        for day in BEFORE:
            land(url, history / "morning", day)
            land(url, history / "final", day)
        land(url, history / "morning", DAY)
        run_dbt(env, tmp, *build)
        stages["morning"] = feature_rows(url, d)

        write_poisoned_day(history / "final", DAY, tmp / "poison", POISON_SERVED_AT)
        land(url, tmp / "poison", DAY)
        run_dbt(env, tmp, *build)
        stages["poisoned"] = feature_rows(url, d)

        land(url, history / "final", DAY)
        run_dbt(env, tmp, *build)
        stages["final"] = feature_rows(url, d)

        for day in AFTER:
            land(url, history / "morning", day)
            land(url, history / "final", day)
        run_dbt(env, tmp, *build)  # no vars: the days not built yet and the latest built one again
        window = json.dumps({"start_date": d.isoformat(), "end_date": (d + timedelta(days=1)).isoformat()})
        run_dbt(env, tmp, *build, "--vars", window)
        stages["later"] = feature_rows(url, d)
        yield {"url": url, "env": env, "tmp": tmp, "history": history, "stages": stages}
    finally:
        databases.drop(name)


# ---- 6d / 6a: rows of day D never change once built ----------------------------------------------


def test_features_have_content(staged):
    """The comparisons below mean something only if D's rows carry history, market and results."""
    rows = query(
        staged["url"],
        """
        select count(*), count(mkt_odds), sum(f_jockey_starts_365d), count(f_musique_place_1),
               count(*) filter (where is_pre_race_snapshot)
        from marts.feat_runner_pre_race where race_date = %s""",
        (day_of(DAY),),
    )[0]
    total, priced, jockey_starts, with_form, pre_race = rows
    assert total > 400 and priced > 200 and jockey_starts > 500 and with_form > 300
    assert pre_race == total  # the morning snapshot precedes every race of D
    winners = query(
        staged["url"],
        "select count(*) from marts.fct_runner_result where race_date = %s and is_winner",
        (day_of(DAY),),
    )[0][0]
    assert winners >= 35  # D's real results did land


def test_morning_only_equals_after_final_snapshot(staged):
    """6d: the final snapshot (results, final odds, late non-runners, driver changes, later start
    times) changes none of D's feature rows."""
    stages = staged["stages"]
    assert stages["morning"] == stages["final"]


def test_poisoned_post_race_snapshot_changes_nothing(staged):
    """6b, dynamically: a post-race snapshot whose every post-race field (and career figures,
    statuses, drivers, odds, start times) is rewritten leaves D's rows as the morning built them."""
    stages = staged["stages"]
    assert stages["morning"] == stages["poisoned"]


def test_landing_later_days_leaves_day_identical(staged):
    """6a: land D+1, D+2, build, rebuild D alone: D's rows are identical."""
    stages = staged["stages"]
    assert stages["final"] == stages["later"]
    assert query(staged["url"], "select count(distinct race_date) from marts.feat_runner_pre_race")[0][0] == 6


def test_market_only_from_bodies_served_before_the_cutoff(staged):
    """Odds come from a snapshot served at least 5 minutes before the start; on D they are the
    morning file's odds, not the final ones, although the final snapshot landed."""
    late = query(
        staged["url"],
        """
        select count(*) from marts.feat_runner_pre_race
        where mkt_served_at >= race_start_at - interval '5 minutes'""",
    )[0][0]
    assert late == 0
    morning = staged["history"] / "morning" / DAY
    expected = {}
    for path in morning.glob("R*/C*/participants.json"):
        race_id = f"{day_of(DAY).isoformat()}-{path.parts[-3]}-{path.parts[-2]}"
        for runner in json.loads(path.read_text())["participants"]:
            odds = (runner.get("dernierRapportDirect") or {}).get("rapport")
            if odds and odds > 1:
                expected[(race_id, runner["numPmu"])] = float(odds)
    got = dict(
        ((r, n), o)
        for r, n, o in query(
            staged["url"],
            """
        select race_id, num_pmu, mkt_odds from marts.feat_runner_pre_race
        where race_date = %s and mkt_odds is not null""",
            (day_of(DAY),),
        )
    )
    assert got == expected


# ---- 6c: rates count only earlier race days -----------------------------------------------------


def test_rates_count_only_earlier_days(staged):
    """Jockey starts/wins and horse runs on D+1 equal the counts of the JSON files of the days
    before D+1: D+1's own races (and the race itself) are never counted."""
    target = AFTER[0]
    jockey, horse = history_counts(staged["history"] / "final", [*BEFORE, DAY])
    rows = query(
        staged["url"],
        """
        select jockey_key, f_jockey_starts_365d, f_jockey_win_rate_365d, horse_key, f_runs_365d
        from marts.feat_runner_pre_race where race_date = %s""",
        (day_of(target),),
    )
    assert len(rows) > 400
    checked = 0
    for jockey_key, starts, win_rate, horse_key, runs in rows:
        exp_starts, exp_wins = jockey.get(jockey_key, (0, 0))
        assert starts == exp_starts, jockey_key
        if exp_starts:
            assert win_rate == pytest.approx(exp_wins / exp_starts), jockey_key
            checked += 1
        else:
            assert win_rate is None
        if horse_key.startswith("id:"):
            assert runs == horse.get(horse_key[3:], 0), horse_key
    assert checked > 200


def test_winner_of_a_race_does_not_count_its_own_win(staged):
    """Every winner on D: its jockey's D-row wins are the same whether or not it won on D."""
    jockey, _ = history_counts(staged["history"] / "final", BEFORE)
    rows = query(
        staged["url"],
        """
        select f.jockey_key, f.f_jockey_starts_365d, f.f_jockey_win_rate_365d
        from marts.feat_runner_pre_race f
        join marts.fct_runner_result r using (race_id, num_pmu)
        where f.race_date = %s and r.is_winner""",
        (day_of(DAY),),
    )
    assert len(rows) >= 35
    for jockey_key, starts, win_rate in rows:
        exp_starts, exp_wins = jockey.get(jockey_key, (0, 0))
        assert starts == exp_starts
        assert (win_rate or 0) == pytest.approx(exp_wins / exp_starts if exp_starts else 0)


@pytest.mark.parametrize("day, history", [(DAY, BEFORE), (AFTER[0], [*BEFORE, DAY])])
def test_records_to_date_count_only_earlier_days(staged, day, history):
    """Records to date (trainer x course, horse x jockey) on a day equal the counts of the JSON
    files of the days before it, so no result of the race day counts; the shrunk win rate is
    (wins + k / field size) / (starts + k) with the default k of connections (30)."""
    counts = connection_counts(staged["history"] / "final", history)
    rows = query(
        staged["url"],
        """
        select trainer_key, hippodrome_code, horse_key, jockey_key, f_field_size,
               f_trainer_hippodrome_starts, f_trainer_hippodrome_win_rate_shrunk, f_horse_jockey_starts
        from marts.feat_runner_pre_race where race_date = %s and not is_declared_non_runner""",
        (day_of(day),),
    )
    assert len(rows) > 400
    seen = 0
    for trainer, course, horse, jockey, field, starts, win_rate, pair_starts in rows:
        exp_starts, exp_wins = counts.get(("trainer_hippodrome", trainer, course), (0, 0))
        assert starts == exp_starts, (trainer, course)
        assert win_rate == pytest.approx((exp_wins + 30 / field) / (exp_starts + 30)), (trainer, course)
        seen += exp_starts > 0
        if horse.startswith("id:"):
            assert pair_starts == counts.get(("horse_jockey", horse, jockey), (0, 0))[0], (horse, jockey)
    assert seen > 50  # runners whose trainer has run at that course before: the check compares real counts


# ---- 6b: lineage and data guards ----------------------------------------------------------------


def test_no_feature_reads_a_post_race_field(staged):
    """Compiled SQL of the point-in-time models reads no post-race field; the feature mart reads
    post-race fields only from the history, always bounded to earlier race days, and never
    reads the outcome marts or rapports/performances."""
    run_dbt(staged["env"], staged["tmp"], "compile", "--select", "+feat_runner_pre_race")
    manifest = json.loads((staged["tmp"] / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"]
    by_name = {n["name"]: n for n in nodes.values() if n["resource_type"] == "model"}
    compiled_dir = staged["tmp"] / "target" / "compiled" / "pmu_warehouse"

    def compiled(name: str) -> str:
        return (compiled_dir / by_name[name]["original_file_path"]).read_text()

    for name in POINT_IN_TIME_MODELS:
        assert unguarded_post_race_reads(compiled(name), allow_history=False) == [], name
    assert unguarded_post_race_reads(compiled("feat_runner_pre_race"), allow_history=True) == []
    parents = set(by_name["feat_runner_pre_race"]["depends_on"]["nodes"])
    expected = (*POINT_IN_TIME_MODELS, HISTORY_MODEL, PAST_FORM_MODEL)
    assert parents == {f"model.pmu_warehouse.{m}" for m in expected}
    # past performances: only those of the race's own body, run on days before it
    past_parents = by_name[PAST_FORM_MODEL]["depends_on"]["nodes"]
    assert past_parents == ["model.pmu_warehouse.stg_pmu__past_performances"]
    assert PAST_FORM_GUARD in compiled(PAST_FORM_MODEL)


def test_the_lineage_check_catches_leaks():
    """The checker above flags a post-race column, an unbounded history read and unguarded odds."""
    clean = f"select f_x from {HISTORY_MODEL} as hist where {HISTORY_GUARD} and hist.finish_place = 1"
    assert unguarded_post_race_reads(clean, allow_history=True) == []
    assert unguarded_post_race_reads("select finish_place as f_place from x", allow_history=False)
    unbounded = f"select hist.is_winner from {HISTORY_MODEL} as hist"
    assert unguarded_post_race_reads(unbounded, allow_history=True)
    assert unguarded_post_race_reads("select odds_direct as mkt_odds from s", allow_history=False)
    assert unguarded_post_race_reads("select body ->> 'tempsObtenu' from raw", allow_history=False)


def test_no_feature_picks_winners_like_a_result_would(staged):
    """A data guard against any path of leakage: within a race, the best value of one feature
    picks the winner far less often than a result-derived column would (the market favourite
    wins about a third of races; finish_place would pick 100%)."""
    url = staged["url"]
    columns = [
        c
        for (c,) in query(
            url,
            """
        select column_name from information_schema.columns
        where table_schema = 'marts' and table_name = 'feat_runner_pre_race'
          and (column_name like 'f\\_%%' or column_name like 'mkt\\_%%')
          and data_type = 'double precision'""",
        )
    ]
    assert len(columns) > 50
    template = sql.SQL("""
        with ranked as (
            select r.is_winner, row_number() over (
                partition by f.race_id order by f.{column} {direction} nulls last, f.num_pmu) as pick,
                max(f.{column}) over (partition by f.race_id)
                > min(f.{column}) over (partition by f.race_id) as is_informative
            from marts.feat_runner_pre_race f
            join marts.fct_runner_result r using (race_id, num_pmu)
            where r.has_result and not r.is_non_runner
        )
        select avg(is_winner::int), count(*) from ranked where pick = 1 and is_informative""")
    for column in columns:
        for direction in ("asc", "desc"):
            statement = template.format(column=sql.Identifier(column), direction=sql.SQL(direction))
            hit_rate, races = query(url, statement)[0]
            if races >= 100:
                assert hit_rate < 0.6, (column, direction, hit_rate)


def test_leaky_column_would_be_caught(staged):
    """The data guard's threshold is meaningful: the finishing place itself picks every winner."""
    hit_rate = query(
        staged["url"],
        """
        with ranked as (
            select is_winner,
                   row_number() over (partition by race_id order by finish_place nulls last, num_pmu) as pick
            from marts.fct_runner_result where has_result and not is_non_runner
        )
        select avg(is_winner::int) from ranked where pick = 1""",
    )[0][0]
    assert hit_rate > 0.95


# ---- analyst mart --------------------------------------------------------------------------------


def test_performance_by_condition_adds_up_to_each_jockeys_record(staged):
    """perf_by_condition: for every jockey, starts and wins summed over racecourses (or distance
    bands) equal the record counted from the JSON files of all landed days."""
    run_dbt(staged["env"], staged["tmp"], "run", "--select", "perf_by_condition")
    jockey, _ = history_counts(staged["history"] / "final", [*BEFORE, DAY, *AFTER])
    for condition in ("hippodrome", "distance_band"):
        rows = query(
            staged["url"],
            """
            select entity_key, sum(starts), sum(wins) from marts.perf_by_condition
            where entity_type = 'jockey' and condition_type = %s group by entity_key""",
            (condition,),
        )
        got = {key: (int(starts), int(wins)) for key, starts, wins in rows}
        assert got == {key: tuple(counts) for key, counts in jockey.items()}, condition


# ---- settings --------------------------------------------------------------------------------------


def test_cutoff_margin_var(staged):
    """A cut-off a day before the start leaves no odds (no body was served that early); the
    default cut-off is restored by the next build."""
    env, tmp, url = staged["env"], staged["tmp"], staged["url"]
    d = day_of(DAY)
    window = {"start_date": d.isoformat(), "end_date": (d + timedelta(days=1)).isoformat()}
    select = ["--select", "int_runner_pit+", "--exclude", "perf_by_condition"]
    run_dbt(env, tmp, "run", *select, "--vars", json.dumps({**window, "odds_cutoff_minutes": 1440}))
    priced = query(url, "select count(mkt_odds) from marts.feat_runner_pre_race where race_date = %s", (d,))
    assert priced[0][0] == 0
    run_dbt(env, tmp, "run", *select, "--vars", json.dumps(window))
    assert feature_rows(url, d) == staged["stages"]["final"]


def test_bad_cutoff_var_is_a_clear_error(staged):
    bad = json.dumps({"odds_cutoff_minutes": "5 minutes'; drop table x; --"})
    result = run_dbt(
        staged["env"], staged["tmp"], "compile", "--select", "int_runner_pit", "--vars", bad, check=False
    )
    assert result.returncode != 0
    assert "odds_cutoff_minutes must be a whole number of minutes" in result.stdout


def test_dbt_tests_of_the_feature_marts_pass(staged):
    """The marts' data tests (keys, ranges, implied probabilities summing to 1) and the unit test."""
    run_dbt(
        staged["env"],
        staged["tmp"],
        "build",
        "--select",
        "path:models/marts/features",
        "path:models/intermediate/features",
        "--indirect-selection",
        "cautious",
    )
