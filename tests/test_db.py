"""The embedded PostgreSQL: starts, is reused, and is one server for every connection."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest

from pmu_core import db
from pmu_core.settings import Settings


@pytest.fixture
def own_home():
    home = Path(tempfile.mkdtemp(prefix="pmu-test-own-"))  # not under pytest's basetemp: see conftest
    settings = Settings(home=home / "home", database_url=None, api_base_url="http://127.0.0.1:9")
    yield settings
    db.stop_embedded(settings)
    shutil.rmtree(home, ignore_errors=True)


def test_embedded_server_starts_creates_schemas_and_is_reused(own_home):
    url = db.ensure_database(own_home)
    assert (own_home.pgdata / "PG_VERSION").read_text().strip() == "18"
    pid_before = (own_home.pgdata / "postmaster.pid").read_text().splitlines()[0]

    # A second start, from another process as a later command would, reuses the same server.
    code = (
        "from pmu_core import db; from pmu_core.settings import Settings; from pathlib import Path; "
        f"print(db.ensure_database(Settings(home=Path({str(own_home.home)!r}), database_url=None, "
        "api_base_url='x')))"
    )
    second_url = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert second_url == url
    assert (own_home.pgdata / "postmaster.pid").read_text().splitlines()[0] == pid_before

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select nspname from pg_namespace")
        assert set(db.SCHEMAS) <= {row[0] for row in cur.fetchall()}


def test_two_connections_see_the_same_data(db_url):
    writer = db.connect(db_url)
    with writer, writer.cursor() as cur:
        cur.execute("create table raw.probe (v text)")
        cur.execute("insert into raw.probe values (%s)", ("seen by both",))
    reader = db.connect(db_url)
    with reader.cursor() as cur:
        cur.execute("select v from raw.probe")
        assert cur.fetchall() == [("seen by both",)]
    writer.close()
    reader.close()


def test_stop_then_use_restarts(own_home):
    db.ensure_database(own_home)
    assert db.stop_embedded(own_home) is True
    assert db.stop_embedded(own_home) is False
    with psycopg2.connect(db.ensure_database(own_home)) as conn, conn.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://postgres:@/pmu?host=/tmp/sock",
            {"host": "/tmp/sock", "port": "5432", "user": "postgres", "password": "", "dbname": "pmu"},
        ),
        (
            "postgresql://ana:s%40cret@db.example:6543/wh",
            {"host": "db.example", "port": "6543", "user": "ana", "password": "s@cret", "dbname": "wh"},
        ),
    ],
)
def test_connection_params_split_socket_and_tcp_urls(url, expected):
    assert db.connection_params(url) == expected


def test_url_for_database_round_trips():
    url = db.url_for_database("postgresql://ana:s%40cret@db.example:6543/wh", "other")
    assert db.connection_params(url)["dbname"] == "other"
    assert db.connection_params(url)["password"] == "s@cret"
    socket_url = db.url_for_database("postgresql://postgres:@/pmu?host=/tmp/sock", "t1")
    assert db.connection_params(socket_url)["host"] == "/tmp/sock"
    assert db.connection_params(socket_url)["dbname"] == "t1"


def test_fingerprint_sees_a_changed_value_but_not_the_clock(db_url):
    import hashlib

    from pmu_core.fingerprint import differences, fingerprint

    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("create table marts.t (id int, name text, fetched_at timestamptz, url text)")
        cur.execute(
            "insert into marts.t values (2, 'b', now(), 'http://127.0.0.1:41000/x'),"
            " (1, 'a', now(), 'http://127.0.0.1:41000/y')"
        )
    before = fingerprint(db_url, ("marts",))
    # rows as PostgreSQL prints a row, sorted, joined by newlines: computed here independently
    assert before["marts.t"] == {
        "rows": 2,
        "md5": hashlib.md5(b"(1,a,/y)\n(2,b,/x)").hexdigest(),
        "ignored": ["fetched_at"],
    }

    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        # another run: another clock, the replay server on another port
        cur.execute(
            "update marts.t set fetched_at = now() + interval '1 day', url = replace(url, '41000', '41001')"
        )
    assert differences(before, fingerprint(db_url, ("marts",))) == []

    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("update marts.t set name = 'c' where id = 2")
        cur.execute("create table marts.u (id int)")
    assert differences(before, fingerprint(db_url, ("marts",))) == [
        "marts.t: differs (2 rows before, 2 after)",
        "marts.u: new (0 rows)",
    ]
