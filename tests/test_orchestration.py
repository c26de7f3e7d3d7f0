"""Dagster definitions, the race clock and the automation, on a simulated clock.

The timing rules are pure functions tested with hand-written race times; the schedule and sensors
are then evaluated through Dagster's own contexts against a real PostgreSQL holding a real
programme body (05/11/2025: first start 09:30 UTC, R2C1), with the clock set by the test.
"""

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg2.extras
import pytest

import orchestration
from orchestration import automation, race_clock
from orchestration.checks import run_days
from orchestration.dbt_assets import model_layer
from orchestration.partitions import daily_partitions, dbt_window_vars, window_days
from orchestration.race_clock import RaceStart
from orchestration.raw_assets import (
    races_without_participants,
    races_without_rapports,
    raw_asset_key,
    stale_programme_days,
)
from orchestration.resources import PostgresResource
from pmu_core import db
from pmu_core.settings import PROJECT_ROOT

DAY = date(2025, 11, 5)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def race(meeting: int, number: int, start: datetime, status: str | None = None, day: date = DAY) -> RaceStart:
    return RaceStart(day, meeting, number, start, status)


# --- definitions ----------------------------------------------------------------------------------


def test_definitions_load_with_raw_assets_jobs_schedule_and_sensors():
    defs = orchestration.defs
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    for endpoint in ("programme", "participants", "performances", "rapports"):
        key = raw_asset_key(endpoint)
        assert key in keys
        node = graph.get(key)
        assert node.partitions_def == daily_partitions
        assert node.group_name == "raw"
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
    # concurrency: network steps share the `pmu_api` pool, dbt steps the `dbt` pool (limit 1, below)
    pools = {a.node_def.name: a.node_def.pool for a in defs.assets}
    assert pools["raw__pmu_programme"] == pools["raw__pmu_rapports"] == "pmu_api"
    dbt_ops = [name for name in pools if name.startswith("dbt_")]
    assert dbt_ops and all(pools[name] == "dbt" for name in dbt_ops)
    # network assets retry; the morning's raw assets carry a freshness deadline (09:00 Paris)
    raw_keys = {raw_asset_key(e) for e in ("programme", "participants", "performances", "rapports")}
    raw_defs = [a for a in defs.assets if set(a.keys) & raw_keys]
    assert len(raw_defs) == 4 and all(d.op.retry_policy.max_retries >= 1 for d in raw_defs)
    assert graph.get(raw_asset_key("programme")).freshness_policy is not None
    for job in ("morning_job", "results_job", "odds_snapshot_job", "daily_job"):
        assert defs.resolve_job_def(job) is not None
    schedule = defs.get_repository_def().get_schedule_def("morning_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 8 * * *", "Europe/Paris")
    assert {s.name for s in defs.sensors} >= {"results_sensor", "pre_race_odds_sensor"}


def test_partitions_are_paris_days_including_today():
    assert daily_partitions.timezone == "Europe/Paris"
    # 23:30 UTC on 5 Nov is already 6 Nov in Paris: the 6th is a partition at that moment.
    keys = daily_partitions.get_partition_keys(current_time=utc(DAY, 23, 30))
    assert keys[-1] == "2025-11-06"


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_dbt_sources_are_the_raw_assets_and_models_are_grouped_by_layer():
    graph = orchestration.defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    dbt_keys = [k for k in keys if k.path[0] in ("staging", "intermediate", "marts")]
    if dg.AssetKey(["marts", "race"]) not in keys:
        pytest.skip("the dbt project has no core models yet")
    for key in dbt_keys:
        node = graph.get(key)
        # upstream of a dbt model: another model, a raw asset, or what the ML writes (modeling)
        for parent in node.parent_keys:
            assert parent.path[0] in ("raw", "staging", "intermediate", "marts", "modeling"), parent
        layer = node.group_name.removesuffix("_full_rebuild")
        assert layer in ("staging", "intermediate", "core", "features", "stats", "ml")
    race = dg.AssetKey(["marts", "race"])
    assert graph.get(race).group_name == "core" and graph.get(race).partitions_def == daily_partitions
    assert raw_asset_key("programme") in _ancestors(graph, race)
    assert any(k.path[0] == "staging" for k in _ancestors(graph, race))
    features = dg.AssetKey(["marts", "feat_runner_pre_race"])
    if features in keys:  # raw -> staging -> core -> features
        assert graph.get(features).group_name == "features"
        assert race in _ancestors(graph, features) or any(
            k.path == ["marts", "race_participant"] for k in _ancestors(graph, features)
        )
        assert raw_asset_key("participants") in _ancestors(graph, features)


def test_model_layer_follows_the_deepest_known_folder():
    assert model_layer(["pmu_warehouse", "staging", "pmu", "stg_pmu__programme"]) == "staging"
    assert model_layer(["pmu_warehouse", "marts", "core", "race"]) == "core"
    assert model_layer(["pmu_warehouse", "marts", "features", "feat_runner_pre_race"]) == "features"
    assert model_layer(["pmu_warehouse", "elsewhere"]) == "warehouse"


def test_window_days_and_dbt_vars_are_half_open():
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    # the DST change day (26/10/2025) is 25 hours long and still one day
    days = window_days(datetime(2025, 10, 26, tzinfo=paris), datetime(2025, 10, 29, tzinfo=paris))
    assert days == [date(2025, 10, 26), date(2025, 10, 27), date(2025, 10, 28)]
    assert dbt_window_vars(days) == {"start_date": "2025-10-26", "end_date": "2025-10-29"}


def test_run_days_from_partition_tags():
    assert run_days({"dagster/partition": "2025-11-05"}) == [DAY]
    assert run_days(
        {
            "dagster/asset_partition_range_start": "2025-11-04",
            "dagster/asset_partition_range_end": "2025-11-06",
        }
    ) == [date(2025, 11, 4), DAY, date(2025, 11, 6)]
    assert run_days({}) is None


# --- the race clock ------------------------------------------------------------------------------


def test_races_from_a_real_programme(shared_pmu):
    body = json.loads((shared_pmu / "replay" / "05112025.json").read_text())
    races = race_clock.races_from_programme(body, DAY)
    assert len(races) == 63
    first = races[0] if races[0].meeting_num == 1 else next(r for r in races if r.key == (DAY, 1, 1))
    assert first.key == (DAY, 1, 1)
    assert first.start_at == datetime(2025, 11, 5, 12, 12, tzinfo=UTC)  # 1762344720000 ms
    assert first.race_id == "2025-11-05-R1-C1"
    assert min(r.start_at for r in races) == utc(DAY, 9, 30)
    assert max(r.start_at for r in races) == utc(DAY, 22, 45)


def test_races_without_start_time_or_numbers_are_skipped():
    body = {
        "programme": {
            "reunions": [
                {
                    "numOfficiel": 1,
                    "courses": [{"numOrdre": 1, "heureDepart": 1762335000000}, {"numOrdre": 2}],
                },
                {"courses": [{"numOrdre": 1, "heureDepart": 1762335000000}]},
            ]
        }
    }
    assert [r.key for r in race_clock.races_from_programme(body, DAY)] == [(DAY, 1, 1)]
    assert race_clock.races_from_programme({}, DAY) == []


def test_days_to_watch_are_yesterday_and_today_in_paris():
    # 23:30 UTC on 5 Nov is 00:30 on 6 Nov in Paris
    assert race_clock.days_to_watch(utc(DAY, 23, 30)) == [DAY, date(2025, 11, 6)]
    assert race_clock.days_to_watch(utc(DAY, 12)) == [date(2025, 11, 4), DAY]


def test_morning_partition_key_is_the_paris_day_of_the_tick():
    from zoneinfo import ZoneInfo

    tick = datetime(2025, 10, 26, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))  # DST day
    assert race_clock.morning_partition_key(tick) == "2025-10-26"
    # 23:00 UTC on 25 Oct is already the 26th in Paris (summer time)
    assert race_clock.morning_partition_key(datetime(2025, 10, 25, 23, 0, tzinfo=UTC)) == "2025-10-26"


def test_results_pending_window():
    r1 = race(1, 1, utc(DAY, 12, 0))
    r2 = race(1, 2, utc(DAY, 12, 30))
    cancelled = race(1, 3, utc(DAY, 11, 0), "COURSE_ANNULEE")
    races = [r1, r2, cancelled]
    assert race_clock.results_pending(races, set(), utc(DAY, 12, 9)) == []  # not settled yet
    assert race_clock.results_pending(races, set(), utc(DAY, 12, 10)) == [r1]  # settled at start+10
    assert race_clock.results_pending(races, set(), utc(DAY, 12, 45)) == [r1, r2]
    assert race_clock.results_pending(races, {r1.key}, utc(DAY, 12, 45)) == [r2]  # r1's rapports landed
    assert race_clock.results_pending(races, set(), utc(DAY, 18, 0)) == [r2]  # 6 h: give up on r1
    assert race_clock.results_pending(races, set(), utc(DAY, 18, 30)) == []


def test_results_run_keys_new_race_or_retry_period():
    r1 = race(1, 1, utc(DAY, 12, 0))
    r2 = race(1, 2, utc(DAY, 12, 30))
    at = race_clock.results_requests
    assert at([r1, r2], set(), utc(DAY, 12, 10)) == {"2025-11-05": "results-2025-11-05-1210-0"}
    assert at([r1, r2], set(), utc(DAY, 12, 24)) == {"2025-11-05": "results-2025-11-05-1210-0"}  # same run
    assert at([r1, r2], set(), utc(DAY, 12, 25)) == {"2025-11-05": "results-2025-11-05-1210-1"}  # retry
    assert at([r1, r2], set(), utc(DAY, 12, 40)) == {"2025-11-05": "results-2025-11-05-1240-0"}  # r2 due
    assert at([r1, r2], {r1.key, r2.key}, utc(DAY, 12, 40)) == {}


def test_results_requests_one_per_day():
    late = race(5, 9, utc(DAY, 22, 45))
    after_midnight = race(1, 1, utc(date(2025, 11, 6), 0, 5), day=date(2025, 11, 6))  # 01:05 Paris
    requests = race_clock.results_requests([late, after_midnight], set(), utc(date(2025, 11, 6), 0, 30))
    # late: due 22:55, 95 min ago = 6 retry periods; after_midnight: due 00:15, one period
    assert requests == {"2025-11-05": "results-2025-11-05-2255-6", "2025-11-06": "results-2025-11-06-0015-1"}


def test_odds_interval_is_ten_minutes_from_the_morning_and_one_near_the_off():
    r1 = race(1, 1, utc(DAY, 13, 0))  # 14:00 Paris; the morning run is at 08:00 Paris = 07:00 UTC
    cancelled = race(1, 2, utc(DAY, 13, 30), "COURSE_ANNULEE")
    at = race_clock.odds_interval
    assert at(r1, utc(DAY, 6, 59)) is None
    assert at(r1, utc(DAY, 7, 0)) == at(r1, utc(DAY, 12, 49)) == timedelta(minutes=10)
    assert at(r1, utc(DAY, 12, 50)) == at(r1, utc(DAY, 12, 59)) == timedelta(minutes=1)
    assert at(r1, utc(DAY, 13, 0)) is None  # started
    assert at(cancelled, utc(DAY, 12, 0)) is None


def _simulate_odds_day(races, first: datetime, last: datetime, tick: timedelta):
    """The sensor's requests on a simulated clock: ticks from `first` to `last`, each with the
    previous tick as its cursor. Returns (snapshots per race id, race ids per run key)."""
    per_race: dict[str, int] = {}
    runs: dict[str, list[str]] = {}
    previous, now = None, first
    while now <= last:
        for _day, (run_key, race_ids) in race_clock.odds_requests(races, now, previous).items():
            assert run_key not in runs  # one run per minute slot
            runs[run_key] = race_ids
            for race_id in race_ids:
                per_race[race_id] = per_race.get(race_id, 0) + 1
        previous, now = now, now + tick
    return per_race, runs


def test_odds_snapshots_on_a_simulated_day_fetch_only_the_races_due():
    early = race(1, 1, utc(DAY, 9, 0))  # 10:00 Paris
    late = race(1, 2, utc(DAY, 13, 0))
    cancelled = race(2, 1, utc(DAY, 11, 0), "COURSE_ANNULEE")
    races = [early, late, cancelled]
    per_race, runs = _simulate_odds_day(races, utc(DAY, 6, 30), utc(DAY, 13, 30), timedelta(minutes=1))
    # early: 07:00, 07:10 … 08:40 (11 snapshots), then every minute 08:50 … 08:59 (10)
    # late: 07:00 … 12:40 (35), then 12:50 … 12:59 (10); the cancelled race never
    assert per_race == {early.race_id: 21, late.race_id: 45}
    # a run asks only for the races due in its minute: never the whole day, at most the two here
    assert max(len(ids) for ids in runs.values()) == 2
    assert sum(len(ids) for ids in runs.values()) == 66
    assert runs[f"odds-2025-11-05-{int(utc(DAY, 12, 55).timestamp()) // 60}"] == [late.race_id]

    # a sensor ticking every 3 minutes delays snapshots but never doubles one: one per 10-minute
    # slot, and near the off one per tick (12:51, 12:54, 12:57)
    per_race, _ = _simulate_odds_day(races, utc(DAY, 6, 30), utc(DAY, 13, 30), timedelta(minutes=3))
    assert per_race[late.race_id] == 35 + 3


# --- checks' pure parts -----------------------------------------------------------------------------


def test_missing_participants_and_rapports():
    r1 = race(1, 1, utc(DAY, 12, 0))
    r2 = race(1, 2, utc(DAY, 12, 30))
    cancelled = race(1, 3, utc(DAY, 13, 0), "COURSE_ANNULEE")
    programmes = {DAY: [r1, r2, cancelled]}
    assert races_without_participants(programmes, {r1.key}) == ["2025-11-05-R1-C2"]
    assert races_without_participants(programmes, {r1.key, r2.key}) == []
    assert races_without_rapports(programmes, set(), utc(DAY, 18, 10)) == ["2025-11-05-R1-C1"]
    assert races_without_rapports(programmes, {r1.key}, utc(DAY, 23, 0)) == ["2025-11-05-R1-C2"]


def test_stale_programme_days():
    races = [race(1, 1, utc(DAY, 12, 0)), race(1, 2, utc(DAY, 15, 0))]
    morning = {DAY: (utc(DAY, 8, 0), races)}
    evening = {DAY: (utc(DAY, 21, 0), races)}
    assert stale_programme_days(morning, utc(DAY, 14, 0)) == []  # day not over: not stale
    assert stale_programme_days(morning, utc(DAY, 22, 0)) == ["2025-11-05"]
    assert stale_programme_days(evening, utc(DAY, 22, 0)) == []


# --- schedule and sensors through Dagster's contexts ----------------------------------------------


def test_morning_schedule_requests_the_paris_day():
    from zoneinfo import ZoneInfo

    repository = orchestration.defs.get_repository_def()
    schedule = repository.get_schedule_def("morning_schedule")

    tick = datetime(2025, 11, 5, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=repository
        )
        requests = schedule.evaluate_tick(context).run_requests
    assert [(r.partition_key, r.run_key) for r in requests] == [("2025-11-05", "morning-2025-11-05")]
    assert schedule.job_name == "morning_job"
    selected = orchestration.defs.resolve_job_def("morning_job").asset_layer.executable_asset_keys
    assert raw_asset_key("programme") in selected and raw_asset_key("participants") in selected
    assert raw_asset_key("rapports") not in selected  # nothing to fetch before the races


def _land_programme(db_url: str, body_path, day: date, served_at: datetime) -> None:
    schema = (PROJECT_ROOT / "extract" / "schema.sql").read_text()
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(schema)
        cur.execute(
            """insert into raw.pmu_programme (race_date, client, url, http_status, fetched_at, served_at,
                                              body_sha256, extractor_version, body)
               values (%s, 1, %s, 200, now(), %s, repeat('0', 64), 'test', %s)""",
            (
                day,
                f"programme/{day:%d%m%Y}",
                served_at,
                psycopg2.extras.Json(json.loads(body_path.read_text())),
            ),
        )


def _land_rapports_marker(db_url: str, day: date, meeting: int, number: int) -> None:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            """insert into raw.pmu_rapports (race_date, meeting_num, race_num, client, url, http_status,
                                             fetched_at, served_at, body_sha256, extractor_version, body)
               values (%s, %s, %s, 1, 'rapports', 200, now(), now(), repeat('0', 64), 'test', '[]'::jsonb)""",
            (day, meeting, number),
        )


def _evaluate(sensor_name: str, db_url: str, now: datetime, monkeypatch, cursor: datetime | None = None):
    monkeypatch.setattr(automation, "current_time", lambda: now)
    repository = orchestration.defs.get_repository_def()
    sensor = repository.get_sensor_def(sensor_name)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            repository_def=repository,
            resources={"postgres": PostgresResource(url=db_url)},
            cursor=cursor.isoformat() if cursor else None,
        )
        return sensor.evaluate_tick(context)


def _tick(
    sensor_name: str, db_url: str, now: datetime, monkeypatch, cursor: datetime | None = None
) -> list[tuple[str, str]] | str:
    result = _evaluate(sensor_name, db_url, now, monkeypatch, cursor)
    if result.skip_message:
        return "skip"
    return [(r.partition_key, r.run_key) for r in result.run_requests]


def _odds_races(db_url: str, now: datetime, monkeypatch, cursor: datetime | None) -> list[str]:
    """The race ids of the one odds run the sensor asks for at `now`."""
    (request,) = _evaluate("pre_race_odds_sensor", db_url, now, monkeypatch, cursor).run_requests
    assert request.partition_key == "2025-11-05"
    assert request.run_key == f"odds-2025-11-05-{int(now.timestamp()) // 60}"
    assert request.run_config["ops"]["modeling__predictions"]["config"] == {"only_moved_races": True}
    return request.run_config["ops"]["raw__pmu_participants"]["config"]["race_ids"]


def test_sensors_on_a_real_programme_with_a_simulated_clock(db_url, shared_pmu, monkeypatch):
    _land_programme(db_url, shared_pmu / "replay" / "05112025.json", DAY, utc(DAY, 8, 55))

    # 06:30 UTC (07:30 Paris), before the morning run: no odds snapshot, no result due
    assert _tick("pre_race_odds_sensor", db_url, utc(DAY, 6, 30), monkeypatch) == "skip"
    assert _tick("results_sensor", db_url, utc(DAY, 7, 0), monkeypatch) == "skip"
    # 07:00 UTC: the 10-minute refreshes start, for every race of the day (63, none cancelled)
    assert len(_odds_races(db_url, utc(DAY, 7, 0), monkeypatch, cursor=utc(DAY, 6, 59))) == 63
    assert _tick("pre_race_odds_sensor", db_url, utc(DAY, 7, 5), monkeypatch, cursor=utc(DAY, 7, 4)) == "skip"
    # 09:21: R2C1 (09:30) is in its last 10 minutes: a snapshot every minute of it alone
    assert _odds_races(db_url, utc(DAY, 9, 21), monkeypatch, cursor=utc(DAY, 9, 20)) == ["2025-11-05-R2-C1"]
    # 09:30: R2C1 is off; on the 10-minute boundary every race still to start is due
    assert len(_odds_races(db_url, utc(DAY, 9, 30), monkeypatch, cursor=utc(DAY, 9, 29))) == 62
    # 09:35: R2C1 started 5 min ago, not settled
    assert _tick("results_sensor", db_url, utc(DAY, 9, 35), monkeypatch) == "skip"
    # 09:41: R2C1 is due
    assert _tick("results_sensor", db_url, utc(DAY, 9, 41), monkeypatch) == [
        ("2025-11-05", "results-2025-11-05-0940-0")
    ]
    # 09:56: still missing, one retry period later
    assert _tick("results_sensor", db_url, utc(DAY, 9, 56), monkeypatch) == [
        ("2025-11-05", "results-2025-11-05-0940-1")
    ]
    # its rapports landed: nothing left to ask for until R2C2 (10:00) settles
    _land_rapports_marker(db_url, DAY, 2, 1)
    assert _tick("results_sensor", db_url, utc(DAY, 9, 57), monkeypatch) == "skip"
    # after midnight Paris, the evening races of the day before are still watched
    assert _tick("results_sensor", db_url, utc(DAY + timedelta(days=1), 0, 30), monkeypatch) == [
        ("2025-11-05", "results-2025-11-05-2255-6")
    ]
    # a day with no programme landed: the sensors skip
    assert _tick("results_sensor", db_url, utc(date(2025, 12, 1), 12, 0), monkeypatch) == "skip"


# --- the instance `pmu ui` runs with --------------------------------------------------------------


def test_instance_sqlite_on_request_with_pools_limited_to_one(tmp_path):
    from orchestration.instance import write_instance

    write_instance(tmp_path, "sqlite")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    assert (tmp_path / "storage").is_dir()


def test_instance_postgres_storage_by_default_in_its_own_schema_one_kept_connection(
    db_url, tmp_path, monkeypatch
):
    import sqlalchemy as sa

    from orchestration.instance import PG_URL_ENV, instance_yaml, sqlalchemy_url, write_instance

    db.ensure_schemas(db_url)
    monkeypatch.delenv("PMU_DAGSTER_STORAGE", raising=False)
    monkeypatch.setenv(PG_URL_ENV, sqlalchemy_url(db_url))
    write_instance(tmp_path)
    assert db_url not in (tmp_path / "dagster.yaml").read_text()  # read from the environment
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.get_ref().storage_data).__name__ == "ConfigurableClassData"
        assert instance.get_ref().storage_data.class_name == "PooledPostgresStorage"
        assert instance.get_runs() == []
        # stock dagster-postgres opens a connection per statement: here each storage keeps one
        for storage in (instance.run_storage, instance.event_log_storage):
            pids = set()
            for _ in range(3):
                with storage._engine.connect() as conn:
                    pids.add(conn.execute(sa.text("select pg_backend_pid()")).scalar())
            assert len(pids) == 1
        # a present table is looked up in the catalogue once, an absent one every time
        events = instance.event_log_storage
        lookups = []
        sa.event.listen(events._engine, "before_cursor_execute", lambda *a: lookups.append(a[2]))
        assert [events.has_table("asset_check_executions") for _ in range(3)] == [True] * 3
        assert [events.has_table("no_such_table") for _ in range(2)] == [False] * 2
        assert len(lookups) == 3
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        # the kept connections are closed with the instance
        cur.execute(
            "select count(*) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
        )
        assert cur.fetchone()[0] == 0
        cur.execute(
            "select table_schema, count(*) from information_schema.tables"
            " where table_name in ('runs', 'event_logs') group by 1"
        )
        assert cur.fetchall() == [("dagster", 2)]
    with pytest.raises(ValueError, match="PMU_DAGSTER_STORAGE"):
        instance_yaml(tmp_path, "mysql")


def test_pmu_ui_is_a_command():
    from pmu_cli.cmd_ui import ui_environment
    from pmu_cli.main import build_parser

    args = build_parser().parse_args(["ui", "--port", "3111"])
    assert (args.host, args.port) == ("127.0.0.1", 3111)
    url = "postgresql://postgres:@/pmu?host=/tmp/sock&port=5432"
    env = ui_environment(url, PROJECT_ROOT / ".pmu" / "dagster")
    assert env["PMU_DATABASE_URL"] == url and env["PMU_PGHOST"] == "/tmp/sock"
    # psycopg2, Dagster's own schema, commits that do not wait for the disk
    assert env["PMU_DAGSTER_PG_URL"] == (
        "postgresql+psycopg2://postgres:@/pmu?host=/tmp/sock&port=5432"
        "&options=-csearch_path%3Ddagster%20-csynchronous_commit%3Doff"
    )
    assert env["DAGSTER_HOME"].endswith("dagster")


def test_failed_requests_fail_the_step_and_a_rerun_lands_the_day(db_url, shared_pmu, replay_server):
    from orchestration.raw_assets import build_raw_asset
    from orchestration.resources import PmuApiResource
    from pmu_core.replay_server import FaultPlan

    # the production asset, without the step retry policy's minutes of waiting
    programme = [build_raw_asset("programme", retry_policy=None)]
    broken = replay_server(shared_pmu / "replay", faults=FaultPlan(rate=1.0, kinds=("500",)))
    with dg.instance_for_test() as instance:
        failed = dg.materialize(
            programme,
            partition_key="2025-11-05",
            instance=instance,
            raise_on_error=False,
            resources={
                "postgres": PostgresResource(url=db_url),
                "pmu_api": PmuApiResource(base_url=broken, requests_per_second=None, max_attempts=1),
            },
        )
        assert not failed.success
        failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.step_failure_data.error.message
        assert "1 programme request(s) failed" in message
        # the message names the URL and why it failed
        assert f"{broken}/rest/client/1/programme/05112025" in message and "HTTP 500" in message
        # the same step against a healthy server: the day lands
        healthy = replay_server(shared_pmu / "replay")
        again = dg.materialize(
            programme,
            partition_key="2025-11-05",
            instance=instance,
            resources={
                "postgres": PostgresResource(url=db_url),
                "pmu_api": PmuApiResource(base_url=healthy, requests_per_second=None),
            },
        )
        assert again.success
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from raw.pmu_programme where race_date = '2025-11-05'")
        assert cur.fetchone()[0] == 1


def test_dbt_events_are_read_ahead_in_order_while_the_step_records():
    import threading

    from orchestration.dbt_assets import read_ahead

    produced_all = threading.Event()

    def dbt_events():
        yield from range(5)
        produced_all.set()

    handed = read_ahead(dbt_events())
    assert next(handed) == 0
    # the producer ran to its end while the consumer still held the first event
    assert produced_all.wait(timeout=10)
    assert list(handed) == [1, 2, 3, 4]


def test_a_dbt_failure_is_raised_after_the_events_before_it():
    from orchestration.dbt_assets import read_ahead

    def failing():
        yield "model_a"
        raise RuntimeError("dbt build failed")

    interrupted = []
    handed = read_ahead(failing(), interrupt=lambda: interrupted.append(True))
    assert next(handed) == "model_a"
    with pytest.raises(RuntimeError, match="dbt build failed"):
        next(handed)
    assert interrupted == []  # dbt ended on its own: nothing to interrupt


def test_a_consumer_that_stops_early_interrupts_dbt():
    import threading

    from orchestration.dbt_assets import read_ahead

    release = threading.Event()
    interrupted = []

    def slow_dbt():
        yield "model_a"
        release.wait(timeout=10)  # dbt still building
        yield "model_b"

    handed = read_ahead(slow_dbt(), interrupt=lambda: (interrupted.append(True), release.set()))
    assert next(handed) == "model_a"
    with pytest.raises(KeyboardInterrupt):
        handed.throw(KeyboardInterrupt())  # what a terminated run raises in the step
    assert interrupted == [True]


def test_manifest_is_stale_when_missing_or_older_than_a_model(tmp_path):
    import os

    from orchestration.dbt_assets import manifest_is_stale

    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    model = tmp_path / "models" / "a.sql"
    model.write_text("select 1\n")
    manifest = tmp_path / "target" / "manifest.json"
    assert manifest_is_stale(tmp_path, manifest)  # missing
    manifest.parent.mkdir()
    manifest.write_text("{}")
    os.utime(model, (1_000_000, 1_000_000))
    os.utime(tmp_path / "dbt_project.yml", (1_000_000, 1_000_000))
    os.utime(manifest, (2_000_000, 2_000_000))
    assert not manifest_is_stale(tmp_path, manifest)
    os.utime(model, (3_000_000, 3_000_000))  # a model edited after the parse
    assert manifest_is_stale(tmp_path, manifest)


def test_an_unreachable_api_fails_at_once_naming_the_url_and_the_reason(db_url):
    import socket

    from orchestration.raw_assets import NETWORK_RETRY, build_raw_asset
    from orchestration.resources import PmuApiResource

    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{probe.getsockname()[1]}"
    programme = [build_raw_asset("programme", retry_policy=NETWORK_RETRY)]  # the production policy
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            programme,
            partition_key="2025-11-05",
            instance=instance,
            raise_on_error=False,
            resources={
                "postgres": PostgresResource(url=db_url),
                "pmu_api": PmuApiResource(base_url=refused, requests_per_second=None, max_attempts=1),
            },
        )
    events = [e.event_type_value for e in result.all_events]
    assert not result.success and "STEP_UP_FOR_RETRY" not in events  # no retry policy minutes
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert "API unreachable: not retried" in message
    assert f"{refused}/rest/client/1/programme/05112025" in message and "Connection refused" in message


def test_failure_reasons_that_mean_no_server_can_be_reached():
    from orchestration.raw_assets import all_unreachable, failure_description, is_unreachable

    dns = (
        "connection error: ConnectionError: ... NameResolutionError(... [Errno -2] Name or service not known)"
    )
    assert is_unreachable(dns) and is_unreachable("connection error: ... [Errno 111] Connection refused")
    assert not is_unreachable("HTTP 500 after 5 attempts") and not is_unreachable("timeout: ReadTimeout")
    failed = [{"url": f"http://h/{n}", "reason": "HTTP 503 after 5 attempts"} for n in range(5)]
    assert not all_unreachable(failed) and not all_unreachable([])
    text = failure_description("participants", failed)
    assert text.splitlines()[0] == "5 participants request(s) failed:"
    assert "http://h/0: HTTP 503 after 5 attempts" in text and "and 2 more" in text


def test_the_clock_setting_moves_the_schedule_and_the_sensors(monkeypatch):
    from pmu_cli.cmd_ui import clock_environment
    from pmu_core import settings

    monkeypatch.delenv("PMU_CLOCK_OFFSET_SECONDS", raising=False)
    monkeypatch.setenv("PMU_NOW", "2025-11-30T09:00")  # Paris time: 08:00 UTC
    assert automation.current_time() == datetime(2025, 11, 30, 8, 0, tzinfo=UTC)
    assert settings.clock_is_set()
    # the morning schedule, ticking on any wall day, works on the clock's day
    repository = orchestration.defs.get_repository_def()
    schedule = repository.get_schedule_def("morning_schedule")
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            repository_def=repository,
            scheduled_execution_time=datetime(2031, 6, 1, 6, 0, tzinfo=UTC),
        )
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2025-11-30"]
    # a running clock: the offset `pmu ui --now` exports
    monkeypatch.delenv("PMU_NOW")
    wall = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    env = clock_environment("2025-11-30T14:00:00+01:00", wall=wall)
    assert (
        float(env["PMU_CLOCK_OFFSET_SECONDS"])
        == (datetime(2025, 11, 30, 13, 0, tzinfo=UTC) - wall).total_seconds()
    )
    monkeypatch.setenv("PMU_CLOCK_OFFSET_SECONDS", env["PMU_CLOCK_OFFSET_SECONDS"])
    drift = automation.current_time() - datetime(2025, 11, 30, 13, 0, tzinfo=UTC) - (datetime.now(UTC) - wall)
    assert abs(drift.total_seconds()) < 5
    with pytest.raises(ValueError, match="ISO"):
        settings.parse_instant("tomorrow")


def test_a_loud_line_names_the_live_api_only():
    from pmu_core.facts import LIVE_API_BASE_URL
    from pmu_core.settings import live_api_warning

    assert "LIVE API" in live_api_warning(LIVE_API_BASE_URL + "/")
    assert live_api_warning("http://127.0.0.1:8765") is None


def test_a_fresh_manifest_is_not_parsed_again_under_dagster_dev(monkeypatch):
    from orchestration.dbt_assets import load_project, manifest_is_stale
    from orchestration.resources import dbt_project

    project = dbt_project()
    if manifest_is_stale(project.project_dir, project.manifest_path):
        pytest.skip("the checkout's manifest is stale: `make dbt-parse` first")
    monkeypatch.setenv("DAGSTER_IS_DEV_CLI", "1")  # what `dagster dev` sets for every step process
    before = project.manifest_path.stat().st_mtime_ns
    load_project()
    assert project.manifest_path.stat().st_mtime_ns == before
