"""Helpers of the reliability suite (imported by its tests: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg2

from pmu_core import db


def day_range(root: Path) -> tuple[date, date]:
    codes = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    days = sorted(date(int(c[4:]), int(c[2:4]), int(c[:2])) for c in codes)
    return days[0], days[-1]


def servable_files(root: Path) -> dict[str, bytes]:
    """API path -> bytes of every body file of the replay root (the morning snapshots aside)."""
    return {
        path.relative_to(root).with_suffix("").as_posix(): path.read_bytes()
        for path in root.rglob("*.json")
        if not path.name.startswith("_") and "morning" not in path.relative_to(root).parts
    }


def query(url: str, statement: str, params=()) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def pmu(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pmu_cli.main", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def empty_database(databases) -> str:
    """A database with nothing in it, not even the schemas: a true first run."""
    name = f"t_{os.urandom(6).hex()}"
    db._admin(
        databases.server_url, psycopg2.sql.SQL("create database {}").format(psycopg2.sql.Identifier(name))
    )
    databases.names.add(name)
    return db.url_for_database(databases.server_url, name)
