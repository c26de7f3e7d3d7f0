"""Dagster's run, event and schedule storage in the warehouse's PostgreSQL, one kept connection each.

dagster-postgres opens a new connection for every statement (its engines use NullPool, so an
instance never holds connections), and a one-day `daily_job` writes about a thousand events, each
several statements: thousands of connection set-ups per run. `PooledPostgresStorage` keeps one connection per
storage (the pool Dagster's own webserver switches to, `optimize_for_webserver`), with a few more
allowed for threads that write at the same time, closed when returned.

Configured in dagster.yaml as `storage: {custom: {module: orchestration.storage, class:
PooledPostgresStorage, config: {postgres_url: ...}}}` (orchestration.instance writes it)."""

from __future__ import annotations

from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.config import pg_config
from dagster_postgres import (
    DagsterPostgresStorage,
    PostgresEventLogStorage,
    PostgresRunStorage,
    PostgresScheduleStorage,
)
from dagster_postgres.utils import pg_url_from_config

# Extra connections beyond the kept one, for concurrent writers (the in-process executor's steps and
# the event watcher); they are closed when returned.
MAX_OVERFLOW = 4
# Kept connections are renewed after this many seconds (a server restart never leaves a dead one).
POOL_RECYCLE_S = 3600
NO_STATEMENT_TIMEOUT = 0


class _KeepsOneConnection:
    """Mixin for a dagster-postgres storage: one kept connection, closed when the instance is."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.optimize_for_webserver(
            statement_timeout=NO_STATEMENT_TIMEOUT,
            pool_recycle=POOL_RECYCLE_S,
            max_overflow=MAX_OVERFLOW,
        )

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class PooledRunStorage(_KeepsOneConnection, PostgresRunStorage):
    pass


class PooledEventLogStorage(_KeepsOneConnection, PostgresEventLogStorage):
    """Also remembers which of its tables exist: dagster asks the catalogue before most event
    writes (an asset check's result asks twice), and a table once there stays for the instance."""

    def __init__(self, *args, **kwargs):
        self._tables_present: set[str] = set()
        super().__init__(*args, **kwargs)

    def has_table(self, table_name: str) -> bool:
        if table_name not in self._tables_present and super().has_table(table_name):
            self._tables_present.add(table_name)
        return table_name in self._tables_present


class PooledScheduleStorage(_KeepsOneConnection, PostgresScheduleStorage):
    pass


class PooledPostgresStorage(DagsterPostgresStorage):
    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None):
        # DagsterPostgresStorage.__init__ with the pooled storages in place of the stock ones
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = PooledRunStorage(postgres_url, should_autocreate_tables)
        self._event_log_storage = PooledEventLogStorage(postgres_url, should_autocreate_tables)
        self._schedule_storage = PooledScheduleStorage(postgres_url, should_autocreate_tables)
        DagsterStorage.__init__(self)

    @classmethod
    def config_type(cls):
        return pg_config()

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
        )
