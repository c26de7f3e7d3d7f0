"""What a Dagster run of the day costs beyond its work: one dbt parse per window (kept between the
steps and runs of the same vars), no `dbt --version` or in-process dbt adapter per step, one
process per run of the day's jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pmu_core.settings import PROJECT_ROOT

DBT_PROJECT = PROJECT_ROOT / "dbt_project"
WINDOW = {"start_date": "2025-11-16", "end_date": "2025-11-17"}


def _non_string_keys(node, path=()) -> list[tuple]:
    if isinstance(node, dict):
        found = [(*path, repr(k)) for k in node if not isinstance(k, str)]
        for key, value in node.items():
            found += _non_string_keys(value, (*path, str(key)))
        return found
    if isinstance(node, list):
        return [hit for i, item in enumerate(node) for hit in _non_string_keys(item, (*path, str(i)))]
    return []


def test_every_key_of_the_dbt_yaml_is_a_string():
    """dbt saves its parse (partial_parse.msgpack) with the YAML's mappings inside and refuses to
    read it back when a key is not a string: every later invocation would parse the whole project
    again. An unquoted comma in a flow mapping (`{name: x, description: a (1, 2)}`) makes such a key."""
    files = [
        p
        for folder in ("models", "macros", "tests", "seeds", "snapshots")
        for p in (DBT_PROJECT / folder).rglob("*.yml")
    ]
    assert files
    bad = {
        str(p.relative_to(DBT_PROJECT)): keys
        for p in files
        if (keys := _non_string_keys(yaml.safe_load(p.read_text())))
    }
    assert bad == {}


def _macro_closure(manifest: dict, macros: list[str]) -> set[str]:
    seen, todo = set(), list(macros)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += (manifest["macros"].get(name) or {}).get("depends_on", {}).get("macros", [])
    return seen


def test_the_full_rebuild_models_read_no_window_var():
    """The full rebuild step passes the run's window only to share the daily step's parse: that is
    harmless only while none of its models (or their tests) renders the window."""
    from orchestration.dbt_assets import is_daily

    manifest = json.loads((DBT_PROJECT / "target" / "manifest.json").read_text())
    window_macro = "macro.pmu_warehouse.race_date_window"
    full = {uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model" and not is_daily(n)}
    assert full, "no full rebuild model: the test has nothing to hold"
    daily_windowed = [
        uid
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] == "model"
        and window_macro in _macro_closure(manifest, n["depends_on"]["macros"])
    ]
    assert daily_windowed  # the closure does find the window where it is used
    reading = [
        uid
        for uid, n in manifest["nodes"].items()
        if (uid in full or (n["resource_type"] == "test" and set(n["depends_on"]["nodes"]) & full))
        and window_macro in _macro_closure(manifest, n["depends_on"]["macros"])
    ]
    assert reading == []


def _invocation(project: Path, dbt_vars: dict | None, parsed: bytes | None, fail: bool = False):
    """One run_target block: what it was seeded with; `parsed` is what 'dbt' leaves in it."""
    from orchestration.dbt_assets import PARTIAL_PARSE, run_target

    with run_target("test", project, dbt_vars) as target:
        seeded = (target / PARTIAL_PARSE).read_bytes() if (target / PARTIAL_PARSE).exists() else None
        if parsed is not None:
            (target / PARTIAL_PARSE).write_bytes(parsed)
        if fail:
            raise RuntimeError("dbt failed")
    return seeded, target


def test_an_invocation_starts_from_the_last_parse_of_the_same_vars(tmp_path):
    seeded, first = _invocation(tmp_path, WINDOW, b"parse 1")
    assert seeded is None and not first.exists()  # removed after a success
    assert _invocation(tmp_path, dict(reversed(WINDOW.items())), b"parse 2")[0] == b"parse 1"
    assert _invocation(tmp_path, None, b"no vars")[0] is None  # other vars: another parse
    assert _invocation(tmp_path, WINDOW, None)[0] == b"parse 2"
    with pytest.raises(RuntimeError):
        _invocation(tmp_path, WINDOW, b"half-done", fail=True)
    assert _invocation(tmp_path, WINDOW, None)[0] == b"parse 2"  # a failed run's parse is not kept


def test_parses_of_old_windows_are_dropped(tmp_path):
    from orchestration.dbt_assets import PARSES_KEPT, parse_cache_dir

    windows = [{"start_date": f"2025-11-{d:02d}", "end_date": f"2025-11-{d + 1:02d}"} for d in range(1, 12)]
    for n, window in enumerate(windows):
        _invocation(tmp_path, window, b"p")
        # mtimes a second apart, oldest first, whatever the file system's resolution
        cached = parse_cache_dir(tmp_path, window) / "partial_parse.msgpack"
        os.utime(cached, (1_700_000_000 + n, 1_700_000_000 + n))
    _invocation(tmp_path, windows[-1], b"p")
    kept = [w for w in windows if parse_cache_dir(tmp_path, w).exists()]
    assert kept == windows[-PARSES_KEPT:]


@pytest.mark.slow
def test_a_second_dbt_parse_of_the_same_window_parses_no_file(tmp_path):
    """Real dbt: the first parse of a window reads every file, the next one with the same vars
    (seeded by run_target) reads none."""
    from orchestration.dbt_assets import run_target

    parsed = []
    for _ in range(2):
        with run_target("test", tmp_path, WINDOW) as target:
            subprocess.run(
                [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet", "--profiles-dir", "."]
                + ["--target-path", str(target), "--vars", json.dumps(WINDOW)],
                cwd=DBT_PROJECT,
                env={**os.environ, "PMU_PGHOST": "/nonexistent", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
                check=True,
            )
            perf = json.loads((target / "perf_info.json").read_text())
            parsed.append((perf["path_count"], perf["parsed_path_count"]))
    (total, first), (_, second) = parsed
    assert first == total > 0 and second == 0


def test_the_dbt_resource_knows_its_version_without_running_dbt():
    import orchestration

    dbt = orchestration.defs.resources["dbt"]
    out = subprocess.run([dbt.dbt_executable, "--version"], capture_output=True, text=True, check=True).stdout
    assert f"installed: {dbt._cli_version}" in out
    assert dbt._initialize_dbt_core_adapter([]) is None


def test_the_days_jobs_run_in_one_process():
    import orchestration

    defs = orchestration.defs
    for name in ("morning_job", "results_job", "odds_snapshot_job", "daily_job"):
        assert defs.resolve_job_def(name).executor_def is dg.in_process_executor, name
