"""`pmu demo` for real on a small synthetic world, then what its users open:

- the project's Dagster instance (PMU_HOME/dagster, the one `pmu ui` opens) holds a materialisation
  of every asset of the definitions, every landed day as a raw partition, and an evaluation of
  every asset check; the runs are the demo's, all successful;
- today was published at the demo's morning, before its starts, its results landed after, and
  marts.ml_model_daily_accuracy judges it;
- the Dagster webserver on that instance, driven by headless Chromium (Debian's /usr/bin/chromium
  through Playwright) to the asset catalog and an asset's checks: shown materialised and evaluated.
  The test saves the screenshot the README shows (docs/dagster_catalog.png)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest
from browser_helpers import CHROMIUM_ARGS

from pmu_core.facts import PARIS
from pmu_core.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

DAYS = 12
TODAY = dt.date(2025, 11, 30)  # pmu_cli.cmd_demo.DEMO_TODAY, restated: the test does not read it
FIRST_DAY = TODAY - dt.timedelta(days=DAYS)
DEMO_RUNS = 6  # landing (morning, final), dbt, train+evaluate, score, results
SCREENSHOT = PROJECT_ROOT / "docs" / "dagster_catalog.png"
STARTUP_SECONDS = 300  # the webserver loads the definitions: slow on a busy box


@pytest.fixture(scope="module")
def demo(databases, tmp_path_factory):
    """The demo run as `make demo` runs it, in a fresh database and PMU_HOME; the live API's
    address is an unreachable port, so that a landing not pointed at the replay would fail."""
    name, url = databases.create()
    home = tmp_path_factory.mktemp("pmu_home")
    env = os.environ | {
        "PMU_HOME": str(home),
        "PMU_DATABASE_URL": url,
        "PMU_API_BASE_URL": "http://127.0.0.1:9",
    }
    env.pop("PMU_NOW", None)
    command = [sys.executable, "-m", "pmu_cli.main", "demo", "--days", str(DAYS)]
    command += ["--meetings-per-day", "2", "--min-train-days", "5"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    yield {"url": url, "home": home, "stdout": done.stdout, "env": env}
    databases.drop(name)


@pytest.fixture(scope="module")
def instance(demo):
    import dagster as dg

    from orchestration.instance import PG_URL_ENV, sqlalchemy_url

    # the instance's storage is the demo database's (dagster.yaml reads its URL from the environment)
    before = os.environ.get(PG_URL_ENV)
    os.environ[PG_URL_ENV] = sqlalchemy_url(demo["url"])
    try:
        with dg.DagsterInstance.from_config(str(demo["home"] / "dagster")) as opened:
            yield opened
    finally:
        if before is None:
            os.environ.pop(PG_URL_ENV, None)
        else:
            os.environ[PG_URL_ENV] = before


@pytest.fixture(scope="module")
def asset_graph():
    import orchestration

    return orchestration.defs.resolve_asset_graph()


def _query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_every_asset_is_materialised_on_the_project_instance(demo, instance, asset_graph):
    import dagster as dg

    keys = asset_graph.get_all_asset_keys()
    never = sorted(k.to_user_string() for k in keys if instance.get_latest_materialization_event(k) is None)
    assert never == []
    days = {(FIRST_DAY + dt.timedelta(days=n)).isoformat() for n in range(DAYS + 1)}
    programme = dg.AssetKey(["raw", "pmu_programme"])
    assert instance.get_materialized_partitions(programme) >= days
    assert instance.get_materialized_partitions(dg.AssetKey(["marts", "race"])) >= days
    assert TODAY.isoformat() in instance.get_materialized_partitions(dg.AssetKey(["modeling", "predictions"]))

    def metadata(*path: str) -> dict:
        event = instance.get_latest_materialization_event(dg.AssetKey(list(path)))
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}

    # what the UI shows of each: what landed, the tables' rows, the model and its evaluation plots
    assert metadata("raw", "pmu_participants")["dagster/row_count"] > 0
    assert metadata("marts", "race")["dagster/row_count"] > 0
    model = metadata("modeling", "model")
    assert model["status"] == "production" and model["train_end"] == str(TODAY - dt.timedelta(days=1))
    evaluation = metadata("modeling", "evaluation")
    assert evaluation["model"] == model["model"] and evaluation["held_out_races"] > 0
    assert "data:image/png;base64," in evaluation["calibration"]
    assert metadata("modeling", "predictions")["runners_scored"] > 0

    runs = instance.get_runs()
    assert len(runs) == DEMO_RUNS
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert {r.tags.get("pmu/trigger") for r in runs} == {"demo"}
    assert len(runs) < len(keys)  # days and assets share runs (a range of days is one run)


def test_every_check_is_evaluated(instance, asset_graph):
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    latest = {}
    for check_key in asset_graph.asset_check_keys:
        history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=1)
        latest[check_key] = history[0].status if history else None
    evaluated = {Status.SUCCEEDED, Status.FAILED}
    unevaluated = sorted(
        f"{k.asset_key.to_user_string()}:{k.name}" for k, s in latest.items() if s not in evaluated
    )
    assert unevaluated == []
    by_name = {(k.asset_key.path[-1], k.name): s for k, s in latest.items()}
    # the checks that must hold on the demo's world
    for must_pass in [
        ("predictions", "every_race_scored"),
        ("predictions", "probabilities_sum_to_one"),
        ("race", "every_programme_race_in_core"),
        ("pmu_participants", "every_programme_race_has_participants"),
        ("pmu_rapports", "finished_races_have_rapports"),
    ]:
        assert by_name[must_pass] == Status.SUCCEEDED, must_pass


def test_today_is_published_before_its_starts_and_judged_after_its_results(demo):
    url = demo["url"]
    published = _query(url, "select published_at from modeling.publications where race_date = %s", (TODAY,))
    assert len(published) == 1  # the morning publication only: the evening run scores nothing
    first_start = _query(url, "select min(race_start_at) from marts.race where race_date = %s", (TODAY,))[0][
        0
    ]
    assert published[0][0] < first_start
    assert published[0][0].astimezone(PARIS).date() == TODAY
    results = _query(
        url, "select count(*) from marts.fct_runner_result where race_date = %s and is_winner", (TODAY,)
    )
    assert results[0][0] > 0
    row = _query(
        url, "select races, log_loss from marts.ml_model_daily_accuracy where race_date = %s", (TODAY,)
    )
    races_with_a_winner = _query(
        url,
        "select count(distinct race_id) from marts.fct_runner_result where race_date = %s and is_winner",
        (TODAY,),
    )[0][0]
    assert len(row) == 1 and row[0][0] == races_with_a_winner and row[0][1] > 0
    # the demo ends with where to go next
    tail = demo["stdout"].split("next:")[-1]
    assert (
        "pmu ui" in tail and f"pmu serve --today {TODAY}" in tail and "marts.ml_model_daily_accuracy" in tail
    )


# --- the Dagster UI in a real browser ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _asset_nodes(base: str) -> list | None:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read()).get("data", {}).get("assetNodes")


@pytest.fixture(scope="module")
def webserver(demo, chromium, tmp_path_factory):
    """`dagster-webserver` on 127.0.0.1 with the project's definitions and the demo's instance,
    in the environment `pmu ui` gives it."""
    from pmu_cli.cmd_ui import ui_environment

    port = _free_port()
    env = demo["env"] | ui_environment(demo["url"], demo["home"] / "dagster")
    webserver = Path(sys.executable).parent / "dagster-webserver"
    server = subprocess.Popen(
        [str(webserver), "-m", "orchestration", "-h", "127.0.0.1", "-p", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=(tmp_path_factory.mktemp("webserver") / "log.txt").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if _asset_nodes(base):
                    break
            except OSError:
                pass
            time.sleep(2)
        else:
            pytest.fail(f"the webserver did not serve the asset graph (exit {server.poll()})")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)


def _dismiss_welcome(page) -> None:
    """The UI greets a new browser with a newsletter dialog over the page: skip it."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=10_000)
        skip.click()
    except Exception:  # noqa: BLE001 - no dialog this time: nothing to dismiss
        pass


def test_the_asset_catalog_shows_the_demo_materialised_in_a_real_browser(webserver, chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            answer = page.goto(f"{webserver}/assets", wait_until="load")
            assert answer.status == 200
            page.get_by_text("Asset name").first.wait_for(timeout=120_000)
            _dismiss_welcome(page)
            # the statuses have loaded: "Materialized" (unpartitioned), "3,258 partitions" (daily)
            page.get_by_text("Materialized").first.wait_for(timeout=120_000)
            page.get_by_text(re.compile(r"^[\d,]+ partitions$")).first.wait_for(timeout=120_000)
            page.wait_for_timeout(3000)
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOT.with_suffix(".new.png")
            page.screenshot(path=str(shot))
            # the catalog draws the rows in view: scroll through all of them
            seen = ""
            for _ in range(12):
                seen += page.locator("body").inner_text()
                page.mouse.move(800, 600)
                page.mouse.wheel(0, 900)
                page.wait_for_timeout(1500)
            for name in ("raw / pmu_programme", "marts / race", "modeling / model", "modeling / predictions"):
                assert name in seen, name
            assert "Never materialized" not in seen
            assert seen.count("Materialized") + len(re.findall(r"[\d,]+ partitions", seen)) >= 20

            # an asset's checks: every one evaluated, and these passed
            page.goto(f"{webserver}/assets/modeling/predictions?view=checks", wait_until="load")
            page.get_by_text("every_race_scored").first.wait_for(timeout=60_000)
            page.get_by_text("Succeeded").first.wait_for(timeout=60_000)
            checks = page.locator("body").inner_text()
            assert "Checks (4)" in checks
            assert "Not evaluated" not in checks and checks.count("Succeeded") >= 3
            page.goto(f"{webserver}/assets/marts/race?view=checks", wait_until="load")
            page.get_by_text("every_programme_race_in_core").first.wait_for(timeout=60_000)
            page.get_by_text("Succeeded").first.wait_for(timeout=60_000)
            race_checks = page.locator("body").inner_text()
            assert "Not evaluated" not in race_checks and "Failed" not in race_checks

            shutil.move(shot, SCREENSHOT)
            assert SCREENSHOT.stat().st_size > 10_000
        finally:
            browser.close()
