"""The accuracy dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright), after the demo's pipeline on synthetic days: synth -> replay over HTTP -> extract ->
dbt -> a model trained and promoted -> the last week published at each day's morning run (08:00,
or just after the morning odds it scores) and today -> the accuracy mart -> `pmu serve`'s app
under uvicorn.

The test saves the screenshot the README shows (docs/dashboard.png)."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from browser_helpers import CHROMIUM_ARGS
from uvicorn_server import Server

from ml.dataset import load_scoring_frame
from pipeline.build import build, build_feature_marts
from pipeline.land import ReplayPass, land_replayed
from pipeline.modeling import Recipe, train
from pipeline.scoring import score
from pmu_core.facts import PARIS
from pmu_core.settings import PROJECT_ROOT
from serving.app import create_app
from synth import generate

pytestmark = pytest.mark.slow

SCREENSHOT = PROJECT_ROOT / "docs" / "dashboard.png"

START = dt.date(2025, 10, 1)
DAYS = 26
TODAY = START + dt.timedelta(days=DAYS - 1)
PUBLISHED_DAYS = 7


def morning_run_time(url: str, day: dt.date) -> dt.datetime:
    """When the morning run would have published the day: 08:00 Paris, or just after the morning
    odds it scores were served if that is later (a publication never precedes its inputs)."""
    served = pd.to_datetime(load_scoring_frame(url, day)["mkt_served_at"], utc=True).max()
    morning = dt.datetime.combine(day, dt.time(8, 0), PARIS)
    return morning if pd.isna(served) else max(morning, served.to_pydatetime() + dt.timedelta(minutes=5))


@pytest.fixture(scope="module")
def warehouse(databases, tmp_path_factory, chromium):
    root = tmp_path_factory.mktemp("synth")
    generate(START, TODAY, root, seed=7, meetings_per_day=3)
    name, url = databases.create()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PMU_DATABASE_URL", url)
        mp.setenv("PMU_HOME", str(tmp_path_factory.mktemp("pmu_home")))
        days = [START + dt.timedelta(days=i) for i in range(DAYS)]
        land_replayed(
            [ReplayPass(root / "morning"), ReplayPass(root, until=TODAY - dt.timedelta(days=1))], days, url
        )
        build_feature_marts(url)
        first_published = TODAY - dt.timedelta(days=PUBLISHED_DAYS)
        train(url, START, first_published - dt.timedelta(days=1), Recipe(n_folds=3), promote=True)
        for day in [first_published + dt.timedelta(days=i) for i in range(PUBLISHED_DAYS + 1)]:
            score(url, [day], trigger="morning", scored_at=morning_run_time(url, day))
        build(url, select=("+ml_model_daily_accuracy",), command="run")  # with marts.race: the starts
        yield url
    databases.drop(name)


def test_dashboard_draws_its_charts_in_a_real_browser(warehouse, chromium):
    from playwright.sync_api import sync_playwright

    with Server(create_app(warehouse, today=TODAY)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems, requests_made = [], []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests_made.append(r.url))
            answer = page.goto(f"{base}/dashboard", wait_until="load")
            assert answer.status == 200

            # today's races: one model-vs-market bar chart per race, bars drawn
            races = page.locator("#today .race")
            assert races.count() > 5
            assert page.locator("#today svg.chart rect.bar").count() >= 2 * races.count()
            assert "stale" in page.locator("#today .staleness").first.inner_text()
            # the model's charts: log loss, pseudo-R², calibration, cumulative ROI, each with lines
            charts = page.locator("#accuracy-charts svg.chart")
            assert charts.count() == 4
            for i in range(4):
                chart = charts.nth(i)
                assert chart.locator("text.empty").count() == 0, chart.get_attribute("aria-label")
                lines = chart.locator("polyline.series")
                assert lines.count() >= 1
                assert all(int(lines.nth(k).get_attribute("data-points")) > 1 for k in range(lines.count()))
                box = chart.bounding_box()
                assert box and box["width"] > 100 and box["height"] > 100
            roi = page.locator("#accuracy-charts svg.chart").nth(3)
            assert roi.locator("line.reference").count() == 1  # the takeout line
            assert {roi.locator("polyline.series").nth(k).get_attribute("data-label") for k in range(2)} == {
                "value bets",
                "favourite",
            }
            assert page.locator("table.accuracy tbody tr").count() == PUBLISHED_DAYS
            assert page.locator("#registry table tbody tr").count() == 1

            assert problems == []
            assert all(url.startswith(base) for url in requests_made), (
                requests_made
            )  # nothing fetched elsewhere
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOT.with_suffix(".new.png")
            page.screenshot(path=str(shot), full_page=True)
            shutil.move(shot, SCREENSHOT)
            assert SCREENSHOT.stat().st_size > 10_000
        finally:
            browser.close()
