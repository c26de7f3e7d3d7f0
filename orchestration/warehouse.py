"""The few warehouse reads the orchestration needs (sensors, checks, metadata). Raw tables are
named by endpoint (pmu_core.facts.ENDPOINTS) and passed as identifiers; values are always query
parameters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from psycopg2 import sql

from orchestration.race_clock import RaceStart, races_from_programme
from pmu_core import facts
from pmu_core.programme import load_json


def _raw(endpoint: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(
        sql.Identifier(facts.RAW_SCHEMA), sql.Identifier(facts.RAW_TABLES[endpoint])
    )


def _qualified(endpoint: str) -> str:
    return facts.endpoint(endpoint).qualified_table


def table_exists(conn, qualified_name: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (qualified_name,))
        return bool(cur.fetchone()[0])


def latest_programmes(conn, days: Iterable[date]) -> dict[date, tuple[datetime | None, list[RaceStart]]]:
    """For each day that has a programme landed: when its latest body was true, and its races.
    Bodies are read as text and parsed by load_json: psycopg2's own jsonb decoding (json.loads)
    would raise RecursionError on a hostile body nested thousands deep."""
    if not table_exists(conn, _qualified("programme")):
        return {}
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                """
                select distinct on (race_date) race_date, served_at, body::text
                from {}
                where race_date = any(%s)
                order by race_date, served_at desc nulls last, raw_id desc
                """
            ).format(_raw("programme")),
            (list(days),),
        )
        return {
            day: (served_at, races_from_programme(load_json(body), day))
            for day, served_at, body in cur.fetchall()
        }


def landed_race_keys(conn, endpoint: str, days: Iterable[date]) -> set[tuple[date, int, int]]:
    """(race_date, meeting_num, race_num) of the races that have at least one body of `endpoint`."""
    if not table_exists(conn, _qualified(endpoint)):
        return set()
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "select distinct race_date, meeting_num, race_num from {} where race_date = any(%s)"
            ).format(_raw(endpoint)),
            (list(days),),
        )
        return {(d, m, r) for d, m, r in cur.fetchall()}


def raw_rows(conn, endpoint: str, days: Iterable[date]) -> int:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("select count(*) from {} where race_date = any(%s)").format(_raw(endpoint)), (list(days),)
        )
        return int(cur.fetchone()[0])


def table_megabytes(conn, qualified_name: str) -> float:
    with conn.cursor() as cur:
        cur.execute("select pg_total_relation_size(to_regclass(%s))", (qualified_name,))
        size = cur.fetchone()[0]
    return round((size or 0) / 1e6, 3)


def race_ids_in_table(conn, qualified_name: str, days: Iterable[date]) -> set[str]:
    """Distinct race_id of a core table for the given race dates (empty when it does not exist)."""
    if not table_exists(conn, qualified_name):
        return set()
    schema, name = qualified_name.split(".")
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("select distinct race_id from {}.{} where race_date = any(%s)").format(
                sql.Identifier(schema), sql.Identifier(name)
            ),
            (list(days),),
        )
        return {row[0] for row in cur.fetchall()}


def raw_days(conn, endpoint: str = "programme") -> list[date]:
    if not table_exists(conn, _qualified(endpoint)):
        return []
    with conn.cursor() as cur:
        cur.execute(sql.SQL("select distinct race_date from {} order by 1").format(_raw(endpoint)))
        return [row[0] for row in cur.fetchall()]


def latest_fetch(conn, endpoint: str, day: date) -> datetime | None:
    """When a body of that race day was last landed for an endpoint (None: never, or no table)."""
    if not table_exists(conn, _qualified(endpoint)):
        return None
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("select max(fetched_at) from {} where race_date = %s").format(_raw(endpoint)), (day,)
        )
        return cur.fetchone()[0]


BODIES_WITHOUT_ROWS = "staging.bodies_without_rows"  # dbt: stg_pmu__bodies_without_rows


def bodies_without_rows(conn, days: Iterable[date]) -> list[tuple[str, str, str]]:
    """(endpoint, url, reason) of the landed bodies of `days` that give staging no rows (the dbt
    quarantine view; empty when it is not built yet)."""
    if not table_exists(conn, BODIES_WITHOUT_ROWS):
        return []
    with conn.cursor() as cur:
        cur.execute(
            "select endpoint, url, reason from staging.bodies_without_rows where race_date = any(%s) "
            "order by race_date, endpoint, raw_id",
            (list(days),),
        )
        return [tuple(row) for row in cur.fetchall()]


def days_without_race_bodies(conn, days: Iterable[date]) -> list[date]:
    """Days whose latest programme lists races (not all cancelled) but for which not one
    participants body landed: a day the extractor could not read at all (see extract/ingest.py)."""
    days = list(days)
    programmes = latest_programmes(conn, days)
    with_runners = {d for d, _, _ in landed_race_keys(conn, "participants", days)}
    return sorted(
        day
        for day, (_, races) in programmes.items()
        if any(not race.cancelled for race in races) and day not in with_runners
    )
