"""The dbt project as Dagster assets (dagster-dbt), with lineage raw -> staging -> core -> features.

Two asset definitions share the dbt manifest:
- `dbt_daily_models`: models that work day by day (incremental ones, and views, which cost nothing
  to re-create), partitioned like the raw assets; a run passes its days to dbt as the incremental
  window vars (contract 2), so a backfill of many days is one `dbt build`.
- `dbt_full_rebuild_models`: tables rebuilt whole on every run (dimensions over all history);
  not partitioned, in their own `*_full_rebuild` groups.
dbt tests become asset checks (`dbt build` runs them after each model). Both definitions take a
slot in the `dbt` pool (limit 1), so two runs never write the same model at once.

One parse per window: dbt re-parses the whole project whenever its `--vars` change, so both
definitions pass a run's window (the full rebuild models read no window var: a test holds them to
it) and start from the partial parse that the last invocation with the same vars left
(`parse_cache_dir`): the second step of a run, and every later run of the same day (odds, results),
parse only what changed.
"""

import hashlib
import json
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from packaging import version

from orchestration.checks import run_days
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
    raw asset `raw/pmu_programme`, a model is `<schema>/<name>` (`marts/race`). A source whose
    `meta.dagster.asset_key` names the asset that writes it (the publication tables, written by
    modeling/predictions) takes that key."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        props = dbt_resource_props
        if props["resource_type"] == "source":
            declared = ((props.get("meta") or {}).get("dagster") or {}).get("asset_key")
            if declared:
                return dg.AssetKey(list(declared))
            return dg.AssetKey([props.get("schema") or "raw", props.get("identifier") or props["name"]])
        if props["resource_type"] in ("model", "seed", "snapshot"):
            name = props.get("alias") or props["name"]
            return dg.AssetKey([props.get("schema") or "public", name])
        return super().get_asset_key(props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        layer = model_layer(list(dbt_resource_props.get("fqn") or []))
        return layer if is_daily(dbt_resource_props) else f"{layer}_full_rebuild"

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is not None and not spec.description:
            spec = spec._replace(description=dbt_test_description(manifest["nodes"].get(unique_id) or {}))
        return spec


def dbt_test_description(test: Mapping[str, Any]) -> str:
    """What a dbt data test checks, for its asset check: the test's own description, else its
    generic name and arguments (`dbt test unique on race_id`), else its file."""
    if test.get("description"):
        return test["description"]
    metadata = test.get("test_metadata") or {}
    if metadata.get("name"):
        kwargs = dict(metadata.get("kwargs") or {})
        column = kwargs.pop("column_name", None)
        arguments = ", ".join(
            f"{k}={v}" for k, v in sorted(kwargs.items()) if k != "model" and not str(v).startswith("{{")
        )
        text = f"dbt test {metadata['name']}" + (f" on {column}" if column else "")
        return text + (f" ({arguments})" if arguments else "")
    return f"dbt test {test.get('name', '?')} ({test.get('original_file_path', 'singular test')})"


translator = WarehouseTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True))


class WarehouseDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource without two costs it pays in the step's process before each
    step's dbt starts, for features this project does not use: `dbt --version` in a subprocess
    (the dbt beside this interpreter is the dbt-core package imported here: its version is read in
    process), and an in-process dbt adapter with the project's macros loaded, used only by
    dagster-dbt's fetch_row_counts / fetch_column_metadata (relation_metadata reads those facts
    from the run's own database instead)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt":
            from dbt.version import __version__

            return version.parse(__version__)
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args):
        return None


PARTIAL_PARSE = "partial_parse.msgpack"
# Parses kept, one per set of vars (a day's window each): a day's later runs within the week.
PARSES_KEPT = 8


def parse_cache_dir(project_dir: Path, dbt_vars: Mapping[str, Any] | None) -> Path:
    """Where the partial parse of invocations with these vars is kept (target/dagster_parses/<hash>)."""
    key = hashlib.sha256(json.dumps(dict(dbt_vars or {}), sort_keys=True).encode()).hexdigest()[:16]
    return Path(project_dir) / "target" / "dagster_parses" / key


def keep_parse(target: Path, cache: Path, kept: int = PARSES_KEPT) -> None:
    """Save the partial parse an invocation left in `target` under `cache` (atomic replace: a
    reader never sees half a file), then drop all but the `kept` most recently used caches."""
    parsed = target / PARTIAL_PARSE
    if not parsed.exists():
        return
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"{PARTIAL_PARSE}.{os.getpid()}"
    shutil.copyfile(parsed, partial)
    os.replace(partial, cache / PARTIAL_PARSE)
    caches = sorted(
        (d for d in cache.parent.iterdir() if (d / PARTIAL_PARSE).exists()),
        key=lambda d: (d / PARTIAL_PARSE).stat().st_mtime,
        reverse=True,
    )
    for stale in caches[kept:]:
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def run_target(name: str, project_dir: Path, dbt_vars: Mapping[str, Any] | None) -> Iterator[Path]:
    """A dbt target folder for one invocation, seeded with the partial parse of the same vars
    (dbt then parses only the files changed since), removed when it succeeds (each holds a ~2 MB
    manifest: kept per run they would grow by GBs a month) after its parse is kept for the next
    invocation with these vars; kept for inspection when it fails."""
    cache = parse_cache_dir(project_dir, dbt_vars)
    target = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    if (cache / PARTIAL_PARSE).exists():
        shutil.copyfile(cache / PARTIAL_PARSE, target / PARTIAL_PARSE)
    yield target
    keep_parse(target, cache)
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


def relation_metadata(conn, schema: str, name: str) -> dict:
    """Column names and PostgreSQL types of a built relation (`dagster/column_schema`) and, for a
    table only, its row count (`dagster/row_count`): counting a view would run its query, and the
    staging views re-read raw JSON. Empty when the relation does not exist."""
    from psycopg2 import sql

    with conn.cursor() as cur:
        cur.execute(
            "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = %s and c.relname = %s",
            (schema, name),
        )
        found = cur.fetchone()
        if found is None:
            return {}
        cur.execute(
            "select column_name, data_type, col_description(%s::regclass, ordinal_position::int)"
            " from information_schema.columns where table_schema = %s and table_name = %s"
            " order by ordinal_position",
            (f'"{schema}"."{name}"', schema, name),
        )
        columns = [
            dg.TableColumn(name=column, type=kind, description=comment)
            for column, kind, comment in cur.fetchall()
        ]
        metadata: dict = {"dagster/column_schema": dg.TableSchema(columns=columns)}
        if found[0] in ("r", "p"):
            cur.execute(
                sql.SQL("select count(*) from {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
            )
            metadata["dagster/row_count"] = int(cur.fetchone()[0])
    return metadata


_END = object()


def read_ahead(events, interrupt=None):
    """`events`, iterated in a thread of their own and handed over in order: dbt writes its log to a
    pipe that holds a few kilobytes, so while the step records an event (a database write per
    event), dbt would wait on the pipe; read ahead, the build and the recording overlap. An error
    of `events` is raised after the events before it. When the consumer stops early (the run is
    terminated, a write fails), `interrupt()` is called: the reader thread does not receive the
    interrupt that dagster-dbt would forward to dbt."""
    handed: queue.SimpleQueue = queue.SimpleQueue()

    def drain() -> None:
        try:
            for event in events:
                handed.put(event)
        except BaseException as exc:  # handed to the consumer, which raises it
            handed.put(_Raised(exc))
        handed.put(_END)

    reader = threading.Thread(target=drain, name="dbt-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := handed.get()) is not _END and not isinstance(item, _Raised):
            yield item
    except BaseException:  # the consumer stopped early: dbt may still be building
        if reader.is_alive() and interrupt is not None:
            interrupt()
        raise
    reader.join()
    if isinstance(item, _Raised):  # dbt's own error: nothing left to interrupt
        raise item.exc


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def interrupt_dbt(invocation) -> None:
    """What dagster-dbt does on an interrupt: SIGINT to dbt, then wait for it to stop."""
    invocation.process.send_signal(signal.SIGINT)
    invocation.process.wait(timeout=invocation.termination_timeout_seconds)


def with_relation_metadata(invocation, context: dg.AssetExecutionContext, postgres: PostgresResource):
    """dbt's events (read ahead), each model's materialisation with the column types and (tables)
    row counts read from the database it was built in. dagster-dbt's own fetch_row_counts and
    fetch_column_metadata address relations by the manifest's database name, which is the
    parse's, not necessarily the run's. One connection for the step, in autocommit: each read is
    its own transaction, since one held open would keep its locks and block dbt's table swaps."""
    with postgres.connection() as conn:
        conn.autocommit = True
        for event in read_ahead(invocation.stream(), interrupt=lambda: interrupt_dbt(invocation)):
            if isinstance(event, dg.Output | dg.AssetMaterialization):
                key = event.asset_key if isinstance(event, dg.AssetMaterialization) else None
                if key is None:
                    key = context.asset_key_for_output(event.output_name)
                if len(key.path) == 2:
                    extra = relation_metadata(conn, key.path[0], key.path[1])
                    if extra:
                        event = event.with_metadata({**event.metadata, **extra})
            yield event


def load_project():
    """The dbt project with a manifest to read: `dbt parse` only when it is missing or stale (a
    clean clone, models edited since the last parse), also under `dagster dev`: there every step
    of a run is a subprocess that loads the definitions, and re-parsing a fresh manifest in each
    cost every step ~15 s. Parsed with this environment's dbt (dagster-dbt's own preparer looks
    for `dbt` on PATH only)."""
    project = dbt_project()
    if manifest_is_stale(Path(project.project_dir), project.manifest_path):
        DbtCliResource(
            project_dir=project, profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
        ).cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project


def read_manifest(project) -> dict[str, Any]:
    return json.loads(project.manifest_path.read_text())


def manifest_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {uid: node for uid, node in manifest.get("nodes", {}).items() if node["resource_type"] == "model"}


def build_dbt_assets(project) -> list[dg.AssetsDefinition]:
    """The dbt asset definitions (none for a selection the project does not have yet); the
    manifest is read once for both."""
    manifest = read_manifest(project)
    models = manifest_nodes(manifest).values()
    definitions = []

    if any(is_daily(m) for m in models):

        @dbt_assets(
            manifest=manifest,
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
            with (
                postgres.dbt_environment(),
                run_target("dbt_daily_models", project.project_dir, dbt_vars) as target,
            ):
                invocation = dbt.cli(
                    [*BUILD, "--vars", json.dumps(dbt_vars)], context=context, target_path=target
                )
                yield from with_relation_metadata(invocation, context, postgres)

        definitions.append(dbt_daily_models)

    if any(not is_daily(m) for m in models):

        @dbt_assets(
            manifest=manifest,
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
            # the run's window, read by none of these models: it only lets this step reuse the
            # parse of the run's daily step (other vars would make dbt parse everything again)
            days = run_days(dict(context.run.tags))
            dbt_vars = dbt_window_vars(days) if days else None
            args = [*BUILD, "--vars", json.dumps(dbt_vars)] if dbt_vars else BUILD
            with (
                postgres.dbt_environment(),
                run_target("dbt_full_rebuild_models", project.project_dir, dbt_vars) as target,
            ):
                invocation = dbt.cli(args, context=context, target_path=target)
                yield from with_relation_metadata(invocation, context, postgres)

        definitions.append(dbt_full_rebuild_models)

    return definitions
