"""Fixtures shared by the test-suite: a real PostgreSQL (embedded, or PMU_DATABASE_URL), a fresh
database per test, the real recorded PMU data, and replay servers over real HTTP."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from browser_helpers import CHROMIUM

from pmu_core import db
from pmu_core.replay_server import FaultPlan, ReplayServerThread
from pmu_core.settings import Settings, shared_pmu_dir

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def shared_pmu() -> Path:
    """`../shared/pmu`: skip where absent, except under CI where its absence is a failure."""
    path = shared_pmu_dir()
    if not (path / "replay").is_dir():
        message = f"real PMU recordings not found at {path} (set PMU_SHARED_DIR)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def embedded_home(prefix: str) -> Path:
    """A folder for an embedded server's data, outside pytest's basetemp: pytest resets
    /tmp/pytest-of-<user> to mode 0700 when another session starts, which locks out the
    unprivileged user that pgserver runs postgres as (when we are root) and kills the server."""
    return Path(tempfile.mkdtemp(prefix=prefix))


@pytest.fixture(scope="session")
def pmu_home() -> Path:
    home = embedded_home("pmu-test-home-")
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url(pmu_home) -> str:
    """URL of a maintenance database on the test server: PMU_DATABASE_URL when given, else an
    embedded server started for this session in a temporary PMU_HOME and stopped at the end."""
    given = os.environ.get("PMU_DATABASE_URL")
    if given:
        yield given
        return
    settings = Settings(home=pmu_home, database_url=None, api_base_url="http://127.0.0.1:9")
    url = db.database_url(settings)
    yield url
    db.stop_embedded(settings)


class Databases:
    """Fresh databases on the test server, each with the project's schemas; `create()` returns
    (name, url), `drop(name)` removes one (its sessions closed). Names are generated, never input."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.names: set[str] = set()

    def create(self, prefix: str = "t") -> tuple[str, str]:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        url = db.recreate_database(name, self.server_url)
        self.names.add(name)
        return name, url

    def drop(self, name: str) -> None:
        db.drop_database(name, self.server_url)
        self.names.discard(name)


@pytest.fixture(scope="session")
def databases(server_url) -> Databases:
    """The one way tests make a database: per test (`db_url`), per module (`databases.create()`
    in a module fixture, dropped in its teardown) or a second one beside `db_url`."""
    made = Databases(server_url)
    yield made
    for name in list(made.names):
        made.drop(name)


@pytest.fixture
def db_url(databases, monkeypatch, tmp_path) -> str:
    """A fresh, empty database with the project's schemas, exported as PMU_DATABASE_URL so that
    in-process code, `pmu` subprocesses and dbt all use it. Dropped after the test."""
    name, url = databases.create()
    monkeypatch.setenv("PMU_DATABASE_URL", url)
    monkeypatch.setenv("PMU_HOME", str(tmp_path / "pmu_home"))
    for key, value in db.dbt_env(url).items():
        monkeypatch.setenv(key, value)
    yield url
    databases.drop(name)


@pytest.fixture
def replay_server():
    """Factory: `replay_server(root, faults=FaultPlan(...))` -> base URL of a running server."""
    running: list[ReplayServerThread] = []

    def start(root: Path, faults: FaultPlan | None = None) -> str:
        server = ReplayServerThread(root, faults=faults).__enter__()
        running.append(server)
        return server.base_url

    yield start
    for server in running:
        server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's headless Chromium for the browser tests (tests/browser_helpers.py)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: `apt-get install chromium` (make test installs it under CI)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM
