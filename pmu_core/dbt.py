"""Run dbt on the project's dbt_project against a database, as a subprocess (dbt reads its
connection from the PMU_PG* variables of dbt_project/profiles.yml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pmu_core import db
from pmu_core.settings import PROJECT_ROOT

DBT_PROJECT = PROJECT_ROOT / "dbt_project"


def run_dbt(
    db_url: str,
    *args: str,
    vars: dict | None = None,
    stream: bool = False,
    target_dir: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """`dbt ARGS` against db_url; raises with dbt's output when it fails (unless `check` is false).
    `stream`: dbt's log goes to this process's stdout/stderr as it runs instead of being captured.
    `target_dir`: dbt's target and log folders there instead of dbt_project/ (runs that must not
    share the checkout's manifest and run results with another dbt running at the same time)."""
    dbt = Path(sys.executable).with_name("dbt")  # the dbt of this environment, not one on PATH
    cmd = [str(dbt), *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT)]
    if target_dir is not None:
        cmd += [
            "--target-path",
            str(Path(target_dir) / "target"),
            "--log-path",
            str(Path(target_dir) / "logs"),
        ]
    if vars:
        cmd += ["--vars", json.dumps(vars, default=str)]
    env = os.environ | db.dbt_env(db_url) | {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    done = subprocess.run(cmd, env=env, capture_output=not stream, text=True, cwd=DBT_PROJECT)
    if check and done.returncode != 0:
        output = "" if stream else f":\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
        raise RuntimeError(f"dbt {' '.join(args)} failed{output}")
    return done
