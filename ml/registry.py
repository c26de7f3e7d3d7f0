"""The model registry: modeling.models rows + artifacts under PMU_HOME/models/<name>/<version>/.

Versions are integers per name (1, 2, ...). A new model is a 'candidate'; `promote` makes one version
the 'production' model of its name (the previous one becomes 'archived'), in one transaction."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from ml.models import WinModel, feature_hash
from pmu_core import db
from pmu_core.settings import load_settings

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
STATUSES = ("candidate", "production", "archived")


@dataclass(frozen=True)
class ModelRecord:
    id: int
    name: str
    version: int
    kind: str
    trained_at: dt.datetime
    train_start: dt.date | None
    train_end: dt.date | None
    feature_hash: str
    features: list
    params: dict
    metrics: dict
    artifact_path: str
    status: str

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


_COLUMNS = (
    "id, name, version, kind, trained_at, train_start, train_end, feature_hash, features, params, "
    "metrics, artifact_path, status"
)


def ensure_tables(db_url: str | None = None) -> None:
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(SCHEMA_SQL.read_text())


def artifacts_dir(name: str, version: int) -> Path:
    return load_settings().models_dir / name / str(version)


def register(db_url: str | None, model: WinModel, *, metrics: dict | None = None) -> ModelRecord:
    """Give the fitted model the next version of its name, save its artifacts and insert its row."""
    ensure_tables(db_url)
    with db.connection(db_url) as conn, conn.cursor() as cur:
        # Serialise version numbers per name between concurrent trainings.
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"modeling.models:{model.name}",))
        cur.execute(
            "select coalesce(max(version), 0) + 1 from modeling.models where name = %s", (model.name,)
        )
        version = cur.fetchone()[0]
        folder = artifacts_dir(model.name, version)
        model.save(folder)
        cur.execute(
            "insert into modeling.models (name, version, kind, train_start, train_end, feature_hash,"
            " features, params, metrics, artifact_path) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" returning {_COLUMNS}",
            (
                model.name,
                version,
                model.kind,
                model.training.get("start"),
                model.training.get("end"),
                feature_hash(model.features),
                json.dumps(model.features),
                json.dumps(model.params()),
                json.dumps(metrics or {}, default=str),
                str(folder),
            ),
        )
        return ModelRecord(*cur.fetchone())


def set_metrics(db_url: str | None, model_id: int, metrics: dict) -> None:
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "update modeling.models set metrics = %s where id = %s",
            (json.dumps(metrics, default=str), model_id),
        )


def list_models(db_url: str | None = None, name: str | None = None) -> list[ModelRecord]:
    ensure_tables(db_url)
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            f"select {_COLUMNS} from modeling.models where %(name)s::text is null or name = %(name)s"
            " order by name, version",
            {"name": name},
        )
        return [ModelRecord(*row) for row in cur.fetchall()]


def parse_ref(ref: str) -> tuple[str, int | None]:
    """'name@3' -> ('name', 3); 'name' -> ('name', None) meaning its production version."""
    name, _, version = ref.partition("@")
    if not name:
        raise ValueError(f"bad model reference {ref!r}: expected NAME or NAME@VERSION")
    if version and not version.isdigit():
        raise ValueError(f"bad version in {ref!r}: expected an integer")
    return name, int(version) if version else None


def get_model(db_url: str | None, ref: str | None = None) -> ModelRecord:
    """NAME@VERSION, NAME (its production version) or None (the latest-trained production model)."""
    ensure_tables(db_url)
    with db.connection(db_url) as conn, conn.cursor() as cur:
        if ref is None:
            cur.execute(
                f"select {_COLUMNS} from modeling.models where status = 'production'"
                " order by trained_at desc, id desc limit 1"
            )
            what = "a production model (promote one: pmu models promote NAME@VERSION)"
        else:
            name, version = parse_ref(ref)
            if version is None:
                cur.execute(
                    f"select {_COLUMNS} from modeling.models where name = %s and status = 'production'",
                    (name,),
                )
                what = f"a production version of {name}"
            else:
                cur.execute(
                    f"select {_COLUMNS} from modeling.models where name = %s and version = %s",
                    (name, version),
                )
                what = f"model {name}@{version}"
        row = cur.fetchone()
    if row is None:
        raise LookupError(f"no {what} in modeling.models")
    return ModelRecord(*row)


def load_model(db_url: str | None, ref: str | None = None) -> tuple[ModelRecord, WinModel]:
    record = get_model(db_url, ref)
    folder = Path(record.artifact_path)
    if not (folder / "manifest.json").exists():
        raise FileNotFoundError(f"artifacts of {record.label} missing at {folder}")
    return record, WinModel.load(folder)


def promote(db_url: str | None, ref: str) -> ModelRecord:
    """Make NAME@VERSION the production model of NAME; the former one is archived."""
    name, version = parse_ref(ref)
    if version is None:
        raise ValueError("promote needs an explicit version: NAME@VERSION")
    record = get_model(db_url, ref)
    with db.connection(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "update modeling.models set status = 'archived' where name = %s and status = 'production'"
            " and id <> %s",
            (name, record.id),
        )
        cur.execute(
            f"update modeling.models set status = 'production' where id = %s returning {_COLUMNS}",
            (record.id,),
        )
        return ModelRecord(*cur.fetchone())
