"""Ordered hashes of a warehouse's tables, to show that two builds hold the same data bit for bit
(`pmu db fingerprint`): a refactoring must leave raw, core and feature tables unchanged.

Each table's digest is the md5 of its rows' text, sorted, over every column but those that hold a
wall clock or a random run id: they differ between two runs of the same pipeline by design. A `url`
counts by its path: the origin is the server's (a replay server listens on a random port)."""

from __future__ import annotations

from psycopg2 import sql

from pmu_core import db

DEFAULT_SCHEMAS = ("raw", "staging", "intermediate", "marts", "modeling")
# Set from the clock or a random id at run time: never equal across two runs.
VOLATILE_COLUMNS = frozenset(
    {"fetched_at", "finished_at", "started_at", "trained_at", "scored_at", "run_id", "artifact_path"}
)


def _comparable(column: str) -> sql.Composable:
    if column == "url":
        return sql.SQL("regexp_replace({}, '^[a-z]+://[^/]+', '')").format(sql.Identifier(column))
    return sql.Identifier(column)


def fingerprint(db_url: str, schemas: tuple[str, ...] = DEFAULT_SCHEMAS) -> dict[str, dict]:
    """{schema.table: {"rows": n, "md5": digest, "ignored": [volatile columns]}} for every table
    and view of `schemas`."""
    out: dict[str, dict] = {}
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = any(%s) order by 1, 2",
            (list(schemas),),
        )
        for schema, table in cur.fetchall():
            cur.execute(
                "select column_name from information_schema.columns"
                " where table_schema = %s and table_name = %s order by ordinal_position",
                (schema, table),
            )
            columns = [name for (name,) in cur.fetchall()]
            kept = [c for c in columns if c not in VOLATILE_COLUMNS]
            row_text = sql.SQL("row({})::text").format(sql.SQL(", ").join(_comparable(c) for c in kept))
            cur.execute(
                sql.SQL(
                    "select count(*), md5(coalesce(string_agg(t, E'\\n' order by t), ''))"
                    " from (select {} as t from {}.{}) as rows_as_text"
                ).format(row_text, sql.Identifier(schema), sql.Identifier(table))
            )
            rows, digest = cur.fetchone()
            out[f"{schema}.{table}"] = {
                "rows": rows,
                "md5": digest,
                "ignored": sorted(set(columns) - set(kept)),
            }
    return out


def differences(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """One line per table that is missing, new or different, in name order."""
    lines = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            lines.append(f"{name}: missing ({before[name]['rows']} rows before)")
        elif name not in before:
            lines.append(f"{name}: new ({after[name]['rows']} rows)")
        elif before[name]["md5"] != after[name]["md5"]:
            lines.append(f"{name}: differs ({before[name]['rows']} rows before, {after[name]['rows']} after)")
    return lines
