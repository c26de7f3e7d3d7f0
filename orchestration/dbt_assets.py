"""The dbt project as Dagster assets (dagster-dbt), with lineage raw -> staging -> core -> features.

Two asset definitions share the dbt manifest:
- `dbt_daily_models`: models that work day by day (incremental ones, and views, which cost nothing
  to re-create), partitioned like the raw assets; a run passes its days to dbt as the incremental
  window vars (contract 2), so a backfill of many days is one `dbt build`.
- `dbt_full_rebuild_models`: tables rebuilt whole on every run (dimensions over all history);
  not partitioned, in their own `*_full_rebuild` groups.
dbt tests become asset checks (`dbt build` runs them after each model). Both definitions take a
slot in the `dbt` pool (limit 1), so two runs never write the same model at once.
"""

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from dagster_dbt.dbt_project import using_dagster_dev

from orchestration.partitions import context_days, daily_partitions, dbt_window_vars, single_run_backfill
from orchestration.resources import PostgresResource, dbt_executable, dbt_project

DBT_POOL = "dbt"
# Unit tests check SQL logic on fixed inputs: they belong to CI (`make test`), and rendered with a
# run's window vars they would filter their own fixture rows out. Data tests do run on every build.
BUILD = ["build", "--exclude-resource-type", "unit_test"]
DAILY_MATERIALIZATIONS = ("incremental", "view")
DAILY_SELECT = " ".join(f"config.materialized:{m}" for m in DAILY_MATERIALIZATIONS)
# Layers by folder under models/; marts/core, features, stats and ml are layers of their own.
LAYER_BY_FOLDER = {name: name for name in ("staging", "intermediate", "core", "features", "stats", "ml")}


def model_layer(fqn: list[str]) -> str:
    """The layer of a dbt node from its fqn (project, folder, ..., name): the deepest known folder."""
    layer = "warehouse"
    for part in fqn[1:-1]:
        layer = LAYER_BY_FOLDER.get(part, layer)
    return layer


def is_daily(props: Mapping[str, Any]) -> bool:
    return (props.get("config") or {}).get("materialized") in DAILY_MATERIALIZATIONS


class WarehouseTranslator(DagsterDbtTranslator):
    """Asset keys are the warehouse's relation names: a dbt source on `raw.pmu_programme` is the
    raw asset `raw/pmu_programme`, a model is `<schema>/<name>` (`marts/race`)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        props = dbt_resource_props
        if props["resource_type"] == "source":
            return dg.AssetKey([props.get("schema") or "raw", props.get("identifier") or props["name"]])
        if props["resource_type"] in ("model", "seed", "snapshot"):
            name = props.get("alias") or props["name"]
            return dg.AssetKey([props.get("schema") or "public", name])
        return super().get_asset_key(props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        layer = model_layer(list(dbt_resource_props.get("fqn") or []))
        return layer if is_daily(dbt_resource_props) else f"{layer}_full_rebuild"


translator = WarehouseTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True))


@contextmanager
def run_target(name: str) -> Iterator[Path]:
    """A dbt target folder for one invocation, removed when it succeeds (each holds a ~7 MB
    manifest: kept per run they would grow by GBs a month) and kept for inspection when it fails."""
    target = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    yield target
    shutil.rmtree(target, ignore_errors=True)


def manifest_is_stale(project_dir: Path, manifest: Path) -> bool:
    """Missing, or older than a file dbt parses: a run would then build models the manifest does
    not know (dagster-dbt fails on their events)."""
    if not manifest.exists():
        return True
    parsed_at = manifest.stat().st_mtime
    sources = [
        project_dir / "dbt_project.yml",
        *(
            p
            for folder in ("models", "macros", "tests", "seeds", "snapshots")
            for p in (project_dir / folder).rglob("*")
            if p.is_file()
        ),
    ]
    return any(p.stat().st_mtime > parsed_at for p in sources if p.exists())


def load_project():
    """The dbt project with a manifest to read: `dbt parse` when missing or stale (a clean clone,
    models edited since the last parse) or under `dagster dev`. Parsed with this environment's dbt
    (dagster-dbt's own preparer looks for `dbt` on PATH only)."""
    project = dbt_project()
    if using_dagster_dev() or manifest_is_stale(Path(project.project_dir), project.manifest_path):
        DbtCliResource(
            project_dir=project, profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
        ).cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project


def manifest_nodes(project) -> dict[str, Mapping[str, Any]]:
    manifest = json.loads(project.manifest_path.read_text())
    return {uid: node for uid, node in manifest.get("nodes", {}).items() if node["resource_type"] == "model"}


def build_dbt_assets(project) -> list[dg.AssetsDefinition]:
    """The dbt asset definitions (none for a selection the project does not have yet)."""
    models = manifest_nodes(project).values()
    definitions = []

    if any(is_daily(m) for m in models):

        @dbt_assets(
            manifest=project.manifest_path,
            project=project,
            select=DAILY_SELECT,
            name="dbt_daily_models",
            partitions_def=daily_partitions,
            backfill_policy=single_run_backfill,
            dagster_dbt_translator=translator,
            pool=DBT_POOL,
        )
        def dbt_daily_models(
            context: dg.AssetExecutionContext, dbt: DbtCliResource, postgres: PostgresResource
        ):
            days = context_days(context)
            dbt_vars = dbt_window_vars(days)
            context.log.info(f"dbt window {dbt_vars}")
            with postgres.dbt_environment(), run_target("dbt_daily_models") as target:
                # No fetch_row_counts here: counting a staging view re-reads all raw JSON; dbt's
                # adapter response already reports the rows each incremental model wrote.
                yield from dbt.cli(
                    [*BUILD, "--vars", json.dumps(dbt_vars)], context=context, target_path=target
                ).stream()

        definitions.append(dbt_daily_models)

    if any(not is_daily(m) for m in models):

        @dbt_assets(
            manifest=project.manifest_path,
            project=project,
            select="fqn:*",
            exclude=DAILY_SELECT,
            name="dbt_full_rebuild_models",
            dagster_dbt_translator=translator,
            pool=DBT_POOL,
        )
        def dbt_full_rebuild_models(
            context: dg.AssetExecutionContext, dbt: DbtCliResource, postgres: PostgresResource
        ):
            with postgres.dbt_environment(), run_target("dbt_full_rebuild_models") as target:
                # dbt's adapter response gives each table's rows (`rows_affected`); fetch_row_counts
                # would query the relation names of the manifest, whose database is the parse's.
                yield from dbt.cli(BUILD, context=context, target_path=target).stream()

        definitions.append(dbt_full_rebuild_models)

    return definitions
