"""The Dagster definitions as a whole: a snapshot of what they contain, what importing the package
costs, and that the raw layer follows the registry of PMU facts.

The snapshot (tests/snapshots/dagster_definitions.txt) lists every asset with its group, every
asset check, every job with the assets it selects, the schedules and the sensors. A change to any
of them shows as a diff here; when the change is intended, regenerate it with

    PMU_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_orchestration_defs.py

and commit the new file with the change.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pmu_core import facts
from pmu_core.settings import PROJECT_ROOT

SNAPSHOT = Path(__file__).parent / "snapshots" / "dagster_definitions.txt"
UPDATE_ENV = "PMU_UPDATE_SNAPSHOTS"
REGENERATE = f"{UPDATE_ENV}=1 .venv/bin/pytest tests/test_orchestration_defs.py"
SOURCES_YML = PROJECT_ROOT / "dbt_project" / "models" / "staging" / "pmu" / "_pmu__sources.yml"


def _key(key: dg.AssetKey) -> str:
    return key.to_user_string()


def definitions_listing(defs: dg.Definitions) -> str:
    """A sorted text listing of the definitions: one line per asset, check, schedule and sensor;
    a job line followed by its selected assets, indented."""
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    lines = [f"# {SNAPSHOT.name}: regenerate with `{REGENERATE}`", "", "## assets (group, partitions)"]
    for key in sorted(graph.get_all_asset_keys(), key=_key):
        node = graph.get(key)
        partitioned = "daily" if node.partitions_def is not None else "-"
        lines.append(f"{_key(key)}  group={node.group_name}  partitions={partitioned}")
    lines += ["", "## asset checks (asset: check)"]
    checks = sorted((_key(c.asset_key), c.name) for c in graph.asset_check_keys)
    lines += [f"{asset}: {name}" for asset, name in checks]
    lines += ["", "## jobs (selected assets)"]
    for job_name in sorted(j.name for j in defs.jobs or []):
        job = defs.resolve_job_def(job_name)
        lines.append(job_name)
        lines += [f"    {_key(k)}" for k in sorted(job.asset_layer.executable_asset_keys, key=_key)]
    lines += ["", "## schedules (cron, timezone, job, default status)"]
    for schedule in sorted(repository.schedule_defs, key=lambda s: s.name):
        lines.append(
            f"{schedule.name}  cron={schedule.cron_schedule!r}  tz={schedule.execution_timezone}"
            f"  job={schedule.job_name}  status={schedule.default_status.value}"
        )
    lines += ["", "## sensors (job, minimum interval, default status)"]
    for sensor in sorted(repository.sensor_defs, key=lambda s: s.name):
        jobs = ",".join(sorted(t.job_name for t in sensor.targets)) or "-"
        lines.append(
            f"{sensor.name}  job={jobs}  every={sensor.minimum_interval_seconds}s"
            f"  status={sensor.default_status.value}"
        )
    return "\n".join(lines) + "\n"


def test_definitions_match_the_snapshot():
    import orchestration

    actual = definitions_listing(orchestration.defs)  # fails (not skips) if they cannot build
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(actual)
        return
    if not SNAPSHOT.exists():
        pytest.fail(f"no snapshot at {SNAPSHOT}: create it with `{REGENERATE}`")
    expected = SNAPSHOT.read_text()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.name} (committed)",
                tofile="definitions (now)",
            )
        )
        pytest.fail(
            f"the Dagster definitions differ from {SNAPSHOT}:\n{diff}\n"
            f"If the change is intended, regenerate the snapshot: `{REGENERATE}`",
            pytrace=False,
        )


# --- what importing costs -------------------------------------------------------------------------

_PROBE = """
import json, sys
manifest = sys.argv[1]
events = []
def hook(event, args):
    if event == "open" and args and str(args[0]).endswith(manifest):
        events.append("opened " + str(args[0]))
    elif event == "subprocess.Popen" and any("dbt" in str(a) for a in args[1] or []):
        events.append("spawned " + repr(args[1]))
sys.addaudithook(hook)
import importlib
for name in sys.argv[2:]:
    importlib.import_module(name)
import orchestration
print(json.dumps({
    "events": events,
    "built": "defs" in vars(orchestration),
    "frameworks": sorted({m.split(".")[0] for m in sys.modules} & {"dagster", "dagster_dbt", "dbt"}),
}))
"""


def _import_probe(*modules: str) -> dict:
    """Import `modules` in a fresh interpreter; what it opened of the manifest, spawned, built, and
    which of Dagster / dagster-dbt / dbt ended up imported."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, "dbt_project/target/manifest.json", *modules],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_race_clock_and_the_instance_do_not_import_dagster():
    probe = _import_probe("orchestration.race_clock", "orchestration.instance", "pmu_cli.cmd_ui")
    assert probe == {"events": [], "built": False, "frameworks": []}


def test_importing_the_package_builds_nothing():
    assert _import_probe("orchestration") == {"events": [], "built": False, "frameworks": []}


def test_importing_every_module_reads_no_manifest_and_runs_no_dbt():
    modules = [f"orchestration.{p.stem}" for p in sorted((PROJECT_ROOT / "orchestration").glob("[a-z]*.py"))]
    probe = _import_probe(*modules)
    assert probe["events"] == [] and probe["built"] is False


# --- the registry ---------------------------------------------------------------------------------


def test_raw_assets_and_dbt_sources_are_the_registry_raw_tables():
    import orchestration
    from orchestration.raw_assets import RAW_GROUP

    raw_tables = sorted(e.raw_table for e in facts.ENDPOINTS)
    graph = orchestration.defs.resolve_asset_graph()
    raw_keys = sorted(k for k in graph.get_all_asset_keys() if graph.get(k).group_name == RAW_GROUP)
    assert raw_keys == [dg.AssetKey([facts.RAW_SCHEMA, t]) for t in raw_tables]
    sources = yaml.safe_load(SOURCES_YML.read_text())["sources"]
    tables = [t["name"] for s in sources if s.get("schema") == facts.RAW_SCHEMA for t in s["tables"]]
    assert sorted(tables) == raw_tables


def test_each_endpoint_has_its_staging_model_reading_its_raw_table():
    """The registry names the staging model that unpacks each raw table: dbt's manifest agrees."""
    manifest = json.loads((PROJECT_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    for endpoint in facts.ENDPOINTS:
        node = manifest["nodes"][f"model.pmu_warehouse.{endpoint.staging_model}"]
        assert f"source.pmu_warehouse.pmu.{endpoint.raw_table}" in node["depends_on"]["nodes"], endpoint.name


def test_every_job_schedule_sensor_and_check_has_a_description():
    import orchestration

    defs = orchestration.defs
    repository = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    missing = [
        f"job {j.name}"
        for j in repository.get_all_jobs()
        if not j.name.startswith("__") and not j.description
    ]
    missing += [f"schedule {s.name}" for s in repository.schedule_defs if not s.description]
    missing += [f"sensor {s.name}" for s in repository.sensor_defs if not s.description]
    specs = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    missing += [f"check {s.asset_key.to_user_string()}:{s.name}" for s in specs if not s.description]
    assert len(specs) > 50 and missing == []
    # a generic dbt test says what it checks
    unique = next(s for s in specs if s.name == "unique_race_race_id")
    assert unique.description == "dbt test unique on race_id"
