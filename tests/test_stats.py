"""The analyst statistics marts (marts/stats: progeny_stats, connection_stats) and the README's SQL
examples, on a small synthetic world landed through the extractor as the demo does.

- Built day by day (one dbt window per day, as the daily schedule does) the tables equal the same
  tables rebuilt from scratch (ordered hashes, pmu_core.fingerprint), and rerunning a day leaves
  them identical.
- A day's results add to the totals: the overall record of each sire equals counts taken from
  the core tables (race_participant, pedigree) written here independently.
- The SQL of README.md's analyst section runs as printed and returns rows that agree with the core.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from pipeline.build import build, window_vars
from pipeline.land import ReplayPass, land_replayed
from pmu_core import db
from pmu_core.dbt import run_dbt
from pmu_core.fingerprint import fingerprint
from pmu_core.settings import PROJECT_ROOT
from synth import generate

pytestmark = pytest.mark.slow  # builds a warehouse several times

START = dt.date(2025, 3, 3)
DAYS = 5
FIRST_BATCH = 3  # built at once, then one window per day
STATS_TABLES = ("marts.progeny_stats", "marts.connection_stats")
STATS_SELECT = ("+progeny_stats", "+connection_stats", "+sire", "+dam", "+damsire", "+hippodrome", "race")
README_SECTION = "### Analyst statistics"


def query(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with db.connection(url) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def stats_fingerprint(url: str) -> dict:
    prints = fingerprint(url, ("marts",))
    return {table: prints[table] for table in STATS_TABLES}


def readme_sql_blocks(text: str, section: str = README_SECTION) -> list[str]:
    """The ```sql blocks of one README section (from its heading to the next heading of the same
    level or above)."""
    start = text.index(section)
    level = section.split(" ")[0]
    following = re.search(rf"^#{{1,{len(level)}}} ", text[start + len(section) :], flags=re.MULTILINE)
    body = text[start : start + len(section) + following.start()] if following else text[start:]
    return re.findall(r"```sql\n(.*?)```", body, flags=re.DOTALL)


def test_readme_sql_blocks_are_found():
    text = (
        "## A\n### Analyst statistics\nx\n```sql\nselect 1;\n```\n"
        "#### sub\n```sql\nselect 2;\n```\n### B\n```sql\nselect 3;\n```\n"
    )
    assert readme_sql_blocks(text) == ["select 1;\n", "select 2;\n"]


@pytest.fixture(scope="module")
def staged(databases, tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_stats")
    generate(START, START + dt.timedelta(days=DAYS - 1), root, seed=7, meetings_per_day=3)
    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    name, url = databases.create("t_stats")
    prints = {}
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PMU_DATABASE_URL", url)
            passes = [ReplayPass(root / "morning"), ReplayPass(root)]
            land_replayed(passes, days[:FIRST_BATCH], url)
            build(
                url, select=STATS_SELECT, command="run", variables=window_vars(days[0], days[FIRST_BATCH - 1])
            )
            for day in days[FIRST_BATCH:]:
                land_replayed(passes, [day], url)
                build(url, select=STATS_SELECT, command="run", variables=window_vars(day, day))
            prints["day_by_day"] = stats_fingerprint(url)
            build(url, select=STATS_SELECT, command="run", variables=window_vars(days[-2], days[-2]))
            prints["rerun"] = stats_fingerprint(url)
            build(url, select=STATS_SELECT, command="run")  # no window: the latest built day again
            prints["no_vars"] = stats_fingerprint(url)
            run_dbt(url, "run", "--full-refresh", "--select", "progeny_stats", "connection_stats")
            prints["scratch"] = stats_fingerprint(url)
            tested = [name.lstrip("+") for name in STATS_SELECT if name != "race"]
            run_dbt(url, "test", "--select", *tested, "--exclude-resource-type", "unit_test")
        yield {"url": url, "prints": prints, "days": days}
    finally:
        databases.drop(name)


def test_stats_have_content(staged):
    rows = query(
        staged["url"],
        "select parent_type, count(*), sum(starts) from marts.progeny_stats"
        " where breakdown = 'all' group by 1",
    )
    by_type = {parent: (int(n), int(starts)) for parent, n, starts in rows}
    assert set(by_type) == {"sire", "dam", "damsire"}
    assert all(n > 20 and starts > 200 for n, starts in by_type.values())
    kinds = dict(
        query(staged["url"], "select connection_type, count(*) from marts.connection_stats group by 1")
    )
    assert set(kinds) == {"jockey_trainer", "horse_jockey", "trainer_hippodrome", "jockey_hippodrome"}


def test_day_by_day_equals_a_rebuild_from_scratch(staged):
    prints = staged["prints"]
    assert all(p["rows"] > 100 for p in prints["scratch"].values())
    assert prints["day_by_day"] == prints["scratch"]


def test_rerunning_a_day_or_no_window_changes_nothing(staged):
    prints = staged["prints"]
    assert prints["rerun"] == prints["day_by_day"]
    assert prints["no_vars"] == prints["day_by_day"]


def test_sire_totals_equal_counts_from_the_core(staged):
    """Each sire's overall starts and wins equal those counted from race_participant (a start: not
    a non-runner, in a race with a result) joined to the pedigree of the runner."""
    expected = {
        key: (int(starts), int(wins))
        for key, starts, wins in query(
            staged["url"],
            """
            select upper(regexp_replace(trim(p.sire_name), '\\s+', ' ', 'g')), count(*),
                   count(*) filter (where rp.is_winner)
            from marts.race_participant rp join marts.pedigree p using (horse_key)
            where rp.is_winner is not null and not rp.is_non_runner and p.sire_name is not null
            group by 1""",
        )
    }
    got = {
        key: (int(starts), int(wins))
        for key, starts, wins in query(
            staged["url"],
            "select parent_key, starts, wins from marts.progeny_stats"
            " where parent_type = 'sire' and breakdown = 'all'",
        )
    }
    assert len(expected) > 20
    assert got == expected


def test_readme_examples_run_on_the_demo_world(staged):
    """The SQL of README.md's analyst section, as printed, returns rows; the best sire on heavy
    going's record matches the core's own count of its foals' runs on 'Lourd'/'Très lourd'."""
    blocks = readme_sql_blocks((PROJECT_ROOT / "README.md").read_text())
    assert len(blocks) >= 2
    for block in blocks:
        with db.connection(staged["url"]) as conn, conn.cursor() as cur:
            cur.execute(block)
            rows = cur.fetchall()
            columns = [c.name for c in cur.description]
        assert rows, block
        if "breakdown_value = 'heavy'" in block:
            top = dict(zip(columns, rows[0], strict=True))
            starts, wins = query(
                staged["url"],
                """
                select count(*), count(*) filter (where rp.is_winner)
                from marts.race_participant rp
                join marts.pedigree p using (horse_key)
                join marts.race r using (race_id)
                where rp.is_winner is not null and not rp.is_non_runner
                  and r.going_label in ('Lourd', 'Très lourd') and p.sire_name = %s""",
                (top["sire_name"],),
            )[0]
            assert (top["starts"], top["wins"]) == (starts, wins)
