"""Landing of fetched bodies into the raw tables: one transaction per batch, bulk `COPY` (CSV),
no row-by-row inserts.

Within the batch's transaction, under an advisory lock per endpoint and day (so that two processes
landing the same day cannot both append the same body), the latest content sha256 of every key (date, meeting,
race; volatile stamps such as `timestampPMU` blanked) is read in one query and only the bodies
that differ are COPYed into the raw table, each parsed
and written once: a re-run adds nothing, a changed body (odds moved, results out) becomes a new
snapshot.

Bodies PostgreSQL cannot store as jsonb (not JSON, truncated, `\\u0000`, not UTF-8 ...) go to
raw.rejected_bodies with the reason and their original bytes. Every fetch outcome, body or not,
goes to raw.fetch_log in the same transaction.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

import orjson
import psycopg2
import psycopg2.errors
from psycopg2 import sql

from extract import EXTRACTOR_VERSION
from extract.client import FetchResult
from pmu_core.db import SCHEMA_LOCK_CLASS
from pmu_core.facts import ENDPOINT_NAMES, ENDPOINTS, RAW_SCHEMA, RAW_TABLES
from pmu_core.programme import MAX_JSON_DEPTH

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
# pg_advisory_xact_lock(int, int) keys: ("PMU", 0) guards the schema; ("PMU" + 1 + endpoint index
# in the registry, day ordinal) one endpoint of one day, so that different endpoints of a day land
# side by side.
ADVISORY_LOCK_CLASS = SCHEMA_LOCK_CLASS
_LOCK_CLASSES = {name: ADVISORY_LOCK_CLASS + 1 + index for index, name in enumerate(ENDPOINT_NAMES)}
# SQLSTATE of JSON syntax errors: a cut or garbled transfer, worth fetching again. Others (22P05
# \u0000, bad escapes) are in the body itself and would come back identical.
RETRYABLE_SQLSTATES = frozenset({"22P02"})


class BodyKey(NamedTuple):
    endpoint: str
    race_date: date
    meeting_num: int | None
    race_num: int | None


@dataclass
class Rejection:
    reason: str
    retryable: bool
    sha256: str


@dataclass
class BatchOutcome:
    """Per fetch result (same order as given): its outcome (new, unchanged, not_published,
    rejected or failed); plus the rejections by index."""

    outcomes: list[str]
    rejections: dict[int, Rejection] = field(default_factory=dict)
    bytes_new: int = 0

    def count(self, outcome: str) -> int:
        return self.outcomes.count(outcome)


# ---- small pure functions -------------------------------------------------------------------


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# Stamps the API puts in a body on every call: `"timestampPMU": {...}` (server time) and `"cached":
# true|false`. Only a real key can match: inside a JSON string the quotes would be escaped.
_VOLATILE = re.compile(rb'"timestampPMU"\s*:\s*\{[^{}]*\}|"cached"\s*:\s*(?:true|false)')


def content_sha256(body: bytes, body_sha256: str | None = None) -> str:
    """sha256 of the body with its volatile stamps blanked: equal for two fetches of unchanged
    content. `body_sha256` (of the exact bytes) is reused when there is nothing to blank."""
    if b'"timestampPMU"' in body or b'"cached"' in body:  # a plain search first: twice as fast
        blanked, count = _VOLATILE.subn(b"", body)
        if count:
            return sha256_hex(blanked)
    return body_sha256 or sha256_hex(body)


def too_deep(body: bytes) -> bool:
    """Whether a JSON text nests past MAX_JSON_DEPTH. The bracket count bounds the depth, so real
    bodies stop at two C-speed counts; past it, orjson (whose limit that is) judges."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return "depth limit" in str(exc)
    return False


def precheck_body(body: bytes) -> tuple[str, bool] | None:
    """What makes a body unstorable before PostgreSQL even sees it, as (reason, retryable); None
    when it may go on. JSON validity itself is left to PostgreSQL's jsonb parser, the judge that
    counts (and the one that is fast); nesting past MAX_JSON_DEPTH is refused here, as PostgreSQL
    would fail the whole batch on its stack depth (54001) and every Python reader recurse out."""
    if not body:
        return "empty body", True
    if b"\x00" in body:
        return "NUL byte in body: not storable as text", False
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"not UTF-8: {exc}", False
    if too_deep(body):
        return f"nested deeper than {MAX_JSON_DEPTH} levels", False
    return None


def _csv_text(value: str) -> bytes:
    return b'"' + value.replace('"', '""').encode() + b'"'


def _csv_bytes(value: bytes) -> bytes:
    return b'"' + value.replace(b'"', b'""') + b'"'


def _csv_moment(value: date) -> bytes:
    return value.isoformat().encode()


# By exact type: one dict lookup per field instead of a chain of isinstance checks (the fetch log
# alone is ~16 fields per request).
_CSV_BY_TYPE = {
    type(None): lambda value: b"",
    bytes: _csv_bytes,
    str: _csv_text,
    bool: lambda value: b"t" if value else b"f",
    int: lambda value: b"%d" % value,
    float: lambda value: repr(value).encode(),
    datetime: _csv_moment,
    date: _csv_moment,
}


def csv_field(value) -> bytes:
    """One field of a PostgreSQL CSV COPY line: NULL is an unquoted empty field; text is always
    quoted (so an empty string stays a string), quotes doubled. Backslashes need nothing: that
    is why CSV and not the text format."""
    render = _CSV_BY_TYPE.get(type(value))
    if render is not None:
        return render(value)
    if isinstance(value, bytes):
        return _csv_bytes(value)
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int | float):
        return str(value).encode()
    if isinstance(value, datetime | date):
        return value.isoformat().encode()
    return _csv_text(str(value))


def csv_line(values: Sequence) -> bytes:
    return b",".join(map(csv_field, values)) + b"\n"


def bytea_hex(body: bytes) -> str:
    """bytea input in hex form, for COPY."""
    return "\\x" + body.hex()


# ---- schema ----------------------------------------------------------------------------------

# True when everything schema.sql creates is there: the latest column (content_sha256) on every
# endpoint's raw table, and the last relations added. Checked first because even a no-op `alter
# table ... if not exists` or `create index if not exists` takes a lock that would queue behind
# (and then block) dbt reading the raw tables.
_SCHEMA_IS_CURRENT = """
    select count(*) = cardinality(%(tables)s::text[])
        and to_regclass('raw.rejected_bodies') is not null
        and to_regclass('raw.fetch_log_day') is not null
        and to_regclass('raw.day_runs_day') is not null
    from information_schema.columns
    where table_schema = %(schema)s and column_name = 'content_sha256'
        and table_name = any(%(tables)s::text[])
"""


def schema_check_params() -> dict:
    """The parameters of the schema check: the registry's raw tables."""
    return {"schema": RAW_SCHEMA, "tables": [e.raw_table for e in ENDPOINTS]}


def schema_is_current(cur) -> bool:
    cur.execute(_SCHEMA_IS_CURRENT, schema_check_params())
    return bool(cur.fetchone()[0])


def ensure_raw_tables(db_url: str) -> None:
    """Apply extract/schema.sql unless the raw tables are already current (idempotent)."""
    conn = psycopg2.connect(db_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("select current_setting('server_version_num')::int")
            if cur.fetchone()[0] < 160000:
                raise RuntimeError("extract needs PostgreSQL 16 or later (pg_input_error_info)")
            if schema_is_current(cur):
                return
            # concurrent `create table if not exists` can collide in the catalog: one at a time
            cur.execute("select pg_advisory_xact_lock(%s, 0)", (ADVISORY_LOCK_CLASS,))
            cur.execute(SCHEMA_SQL.read_text())
    finally:
        conn.close()


# ---- the lander ------------------------------------------------------------------------------

_BODY_COLUMNS = (
    "race_date",
    "meeting_num",
    "race_num",
    "client",
    "url",
    "http_status",
    "fetched_at",
    "served_at",
    "body_sha256",
    "content_sha256",
    "extractor_version",
    "body",
)
_LOG_COLUMNS = (
    "run_id",
    "endpoint",
    "race_date",
    "meeting_num",
    "race_num",
    "client",
    "url",
    "outcome",
    "http_status",
    "attempts",
    "reason",
    "fetched_at",
    "served_at",
    "body_sha256",
    "body_bytes",
    "extractor_version",
)
_REJECT_COLUMNS = (
    "endpoint",
    "race_date",
    "meeting_num",
    "race_num",
    "client",
    "url",
    "http_status",
    "fetched_at",
    "served_at",
    "reason",
    "body_sha256",
    "body_bytes",
)

_COPY_BUFFER = 1 << 20


class Lander:
    """Lands batches on one connection. `land(results)` with FetchResults tagged by BodyKey, all of
    one endpoint."""

    def __init__(self, db_url: str, client: int, run_id: uuid.UUID | None = None) -> None:
        self.client = client
        self.run_id = run_id or uuid.uuid4()
        self.conn = psycopg2.connect(db_url)
        self.conn.set_client_encoding("UTF8")
        with self.conn, self.conn.cursor() as cur:
            # A commit lost to a *server* crash only means a rerun fetches that batch again (WAL
            # order keeps the database consistent, and raw.day_runs is written last): not worth an
            # fsync per batch.
            cur.execute("set synchronous_commit = off")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Lander:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def land(self, results: Sequence[FetchResult]) -> BatchOutcome:
        """One transaction: lock the day(s), read the latest hash of every key, COPY the bodies that
        differ straight into the raw table, COPY rejections and the fetch log."""
        keys: list[BodyKey] = [r.tag for r in results]
        endpoints = {k.endpoint for k in keys}
        if len(endpoints) > 1:
            raise ValueError(f"a batch holds one endpoint, got {sorted(endpoints)}")
        if len(set(keys)) != len(keys):
            raise ValueError("a batch holds each key once")
        outcome = BatchOutcome(outcomes=[""] * len(results))
        if not results:
            return outcome
        endpoint = keys[0].endpoint
        table = sql.Identifier(RAW_SCHEMA, RAW_TABLES[endpoint])

        shas: dict[int, str] = {}
        contents: dict[int, str] = {}
        for idx, result in enumerate(results):
            if result.status != "ok":
                outcome.outcomes[idx] = "not_published" if result.status == "not_published" else "failed"
                continue
            shas[idx] = sha256_hex(result.body)
            contents[idx] = content_sha256(result.body, shas[idx])
            problem = precheck_body(result.body)
            if problem is not None:
                outcome.rejections[idx] = Rejection(problem[0], problem[1], shas[idx])
                outcome.outcomes[idx] = "rejected"

        with self.conn, self.conn.cursor() as cur:
            # Every lander takes the (endpoint, day) lock before reading the latest hashes, so the read
            # and the COPY below are one atomic compare-and-append even with other processes landing.
            days = sorted({k.race_date for k in keys})
            lock_class = _LOCK_CLASSES[endpoint]
            for day in days:
                cur.execute("select pg_advisory_xact_lock(%s, %s)", (lock_class, day.toordinal()))
            latest = _latest_hashes(cur, table, days)
            candidates = []
            for idx in shas:
                if outcome.outcomes[idx] == "":
                    key = keys[idx]
                    if latest.get((key.race_date, key.meeting_num, key.race_num)) == contents[idx]:
                        outcome.outcomes[idx] = "unchanged"
                    else:
                        candidates.append(idx)
            self._copy_bodies(cur, table, results, keys, shas, contents, candidates, outcome)
            self._copy_rejections(cur, endpoint, results, keys, outcome)
            self._copy_log(cur, endpoint, results, keys, outcome, shas)
        return outcome

    def _copy_bodies(self, cur, table, results, keys, shas, contents, candidates, outcome) -> None:
        """COPY the new bodies; if PostgreSQL refuses one as jsonb, ask it which and why
        (pg_input_error_info), reject those, and COPY the rest. A refusal that is not a soft jsonb
        error (a stack depth exceeded, 54001, or any other data or limit error) falls back to one
        COPY per body, so that one bad body costs that body only."""
        if not candidates:
            return
        cur.execute("savepoint fast_path")
        try:
            self._copy_rows(cur, table, results, keys, shas, contents, candidates)
        except psycopg2.Error as exc:
            if not _is_body_error(exc):
                raise
            cur.execute("rollback to savepoint fast_path")
            try:
                candidates = self._reject_invalid_jsonb(cur, results, shas, candidates, outcome)
                self._copy_rows(cur, table, results, keys, shas, contents, candidates)
            except psycopg2.Error as again:
                if not _is_body_error(again):
                    raise
                cur.execute("rollback to savepoint fast_path")
                candidates = self._copy_one_by_one(
                    cur, table, results, keys, shas, contents, candidates, outcome
                )
        for idx in candidates:
            outcome.outcomes[idx] = "new"
            outcome.bytes_new += len(results[idx].body)

    def _reject_invalid_jsonb(self, cur, results, shas, candidates, outcome) -> list[int]:
        """Reject the candidates that pg_input_error_info finds invalid as jsonb; the others."""
        cur.execute(
            """
            select b.i, e.sql_error_code, e.message, e.detail
            from unnest(%s::text[]) with ordinality as b (body, i)
            cross join lateral pg_input_error_info(b.body, 'jsonb') as e
            where e.message is not null
        """,
            ([results[idx].body.decode("utf-8") for idx in candidates],),
        )
        for position, code, message, detail in cur.fetchall():
            idx = candidates[position - 1]
            reason = f"invalid jsonb ({code}): {message}" + (f" {detail}" if detail else "")
            outcome.rejections[idx] = Rejection(reason, code in RETRYABLE_SQLSTATES, shas[idx])
            outcome.outcomes[idx] = "rejected"
        return [idx for idx in candidates if idx not in outcome.rejections]

    def _copy_one_by_one(self, cur, table, results, keys, shas, contents, candidates, outcome) -> list[int]:
        """COPY each body under its own savepoint; reject those PostgreSQL refuses. The landed."""
        landed = []
        for idx in candidates:
            cur.execute("savepoint one_body")
            try:
                self._copy_rows(cur, table, results, keys, shas, contents, [idx])
            except psycopg2.Error as exc:
                if not _is_body_error(exc):
                    raise
                cur.execute("rollback to savepoint one_body")
                reason = f"refused by PostgreSQL ({exc.pgcode}): {(exc.pgerror or str(exc)).strip()}"
                outcome.rejections[idx] = Rejection(reason, exc.pgcode in RETRYABLE_SQLSTATES, shas[idx])
                outcome.outcomes[idx] = "rejected"
            else:
                landed.append(idx)
        return landed

    def _copy_rows(self, cur, table, results, keys, shas, contents, indexes) -> None:
        buffer = io.BytesIO()
        for idx in indexes:
            result, key = results[idx], keys[idx]
            # the body goes in as its own bytes (csv_field of bytes): no decode/encode of megabytes
            buffer.write(
                csv_line(
                    (
                        key.race_date,
                        key.meeting_num,
                        key.race_num,
                        self.client,
                        result.url,
                        result.http_status,
                        result.fetched_at,
                        result.served_at,
                        shas[idx],
                        contents[idx],
                        EXTRACTOR_VERSION,
                        result.body,
                    )
                )
            )
        buffer.seek(0)
        cur.copy_expert(
            sql.SQL("copy {} ({}) from stdin with (format csv)").format(
                table, sql.SQL(", ").join(map(sql.Identifier, _BODY_COLUMNS))
            ),
            buffer,
            size=_COPY_BUFFER,
        )

    def _copy_rejections(self, cur, endpoint, results, keys, outcome) -> None:
        if not outcome.rejections:
            return
        buffer = io.BytesIO()
        for idx, rejection in sorted(outcome.rejections.items()):
            result, key = results[idx], keys[idx]
            buffer.write(
                csv_line(
                    (
                        endpoint,
                        key.race_date,
                        key.meeting_num,
                        key.race_num,
                        self.client,
                        result.url,
                        result.http_status,
                        result.fetched_at,
                        result.served_at,
                        rejection.reason,
                        rejection.sha256,
                        bytea_hex(result.body),
                    )
                )
            )
        buffer.seek(0)
        cur.copy_expert(
            sql.SQL("copy raw.rejected_bodies ({}) from stdin with (format csv)").format(
                sql.SQL(", ").join(map(sql.Identifier, _REJECT_COLUMNS))
            ),
            buffer,
            size=_COPY_BUFFER,
        )

    def _copy_log(self, cur, endpoint, results, keys, outcome, shas) -> None:
        buffer = io.BytesIO()
        for idx, result in enumerate(results):
            key = keys[idx]
            rejection = outcome.rejections.get(idx)
            reason = rejection.reason if rejection else result.reason
            buffer.write(
                csv_line(
                    (
                        str(self.run_id),
                        endpoint,
                        key.race_date,
                        key.meeting_num,
                        key.race_num,
                        self.client,
                        result.url,
                        outcome.outcomes[idx],
                        result.http_status,
                        result.attempts,
                        reason,
                        result.fetched_at,
                        result.served_at,
                        shas.get(idx),
                        len(result.body) if result.body is not None else None,
                        EXTRACTOR_VERSION,
                    )
                )
            )
        buffer.seek(0)
        cur.copy_expert(
            sql.SQL("copy raw.fetch_log ({}) from stdin with (format csv)").format(
                sql.SQL(", ").join(map(sql.Identifier, _LOG_COLUMNS))
            ),
            buffer,
            size=_COPY_BUFFER,
        )


def _is_body_error(exc: psycopg2.Error) -> bool:
    """An error that a body's content can cause: a data exception (SQLSTATE class 22) or a
    program limit (class 54: stack depth, too many levels). Anything else (a lost connection, a
    full disk) is the batch's, not the body's."""
    return (exc.pgcode or "")[:2] in ("22", "54")


def _latest_hashes(cur, table: sql.Composable, days: list[date]) -> dict[tuple, str]:
    """(race_date, meeting_num, race_num) -> content sha256 of the latest row landed for that key."""
    cur.execute(
        sql.SQL("""
        select distinct on (race_date, meeting_num, race_num)
            race_date, meeting_num, race_num, coalesce(content_sha256, body_sha256)
        from {}
        where race_date = any(%s)
        order by race_date, meeting_num, race_num, raw_id desc
    """).format(table),
        (days,),
    )
    return {(d, m, r): sha for d, m, r, sha in cur.fetchall()}
