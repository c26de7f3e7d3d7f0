"""(d) A seeded corpus of >= 500 mutated bodies through extraction and dbt build: nothing crashes,
every mutated body is parsed into rows, quarantined or rejected with its bytes and a reason, the
build is green, the untouched day lands whole, and the outcome counts are reported."""

from __future__ import annotations

import psycopg2
import pytest
from reliability_helpers import day_range, query, servable_files

from extract.client import ClientConfig
from extract.ingest import backfill
from pipeline.build import build
from pmu_core import hostile
from pmu_core.replay_server import ReplayServerThread


@pytest.fixture(scope="module")
def corpus(synthetic_days, tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "replay"
    manifest = hostile.write_corpus(synthetic_days, out, seed=5, share=0.95)
    return out, manifest


def test_every_mutated_body_is_rows_quarantined_or_rejected_and_dbt_is_green(corpus, db_url):
    root, manifest = corpus
    assert len(manifest) >= 500 and {m.mutation for m in manifest} == set(hostile.MUTATIONS)
    start, end = day_range(root)
    with ReplayServerThread(root) as server:
        config = ClientConfig(base_url=server.base_url, requests_per_second=None, backoff_base_seconds=0.01)
        report = backfill(start, end, config=config, db_url=db_url, progress=False)
    statuses = build(db_url)  # raises when dbt fails
    # no-op: nodes dbt has nothing to run for (the semantic layer's); anything else is a failure
    assert set(statuses) <= {"success", "pass", "no-op"}, statuses

    with psycopg2.connect(db_url) as conn:
        results = hostile.outcomes(conn, manifest)
    table = hostile.outcome_table(results)
    print("\n" + hostile.format_table(table))
    assert table["total"]["lost"] == 0, [(m.path, m.mutation) for m, o in results if o == "lost"]
    assert table["total"]["not_fetched"] == 0
    by_mutation = {m: {o for (item, o) in results if item.mutation == m} for m in hostile.MUTATIONS}
    # what PostgreSQL cannot store is rejected, kept byte for byte
    for mutation in (
        "truncated",
        "nul_byte",
        "non_utf8",
        "bom",
        "deep_nesting",
        "html_200",
        "empty_200",
        "nul_escape",
    ):
        assert by_mutation[mutation] == {"rejected"}, mutation
    # valid JSON without the list its staging model reads is quarantined
    for mutation in ("wrong_type", "missing_key", "renamed_key", "json_null"):
        assert by_mutation[mutation] == {"quarantined"}, mutation
    # valid JSON with absurd values still gives rows (the values nulled and flagged)
    for mutation in ("huge_string", "huge_number"):
        assert by_mutation[mutation] == {"rows"}, mutation

    rejected = {
        url.split("/programme/", 1)[1]: (reason, bytes(body))
        for url, reason, body in query(db_url, "select url, reason, body_bytes from raw.rejected_bodies")
    }
    files = servable_files(root)
    for item, outcome in results:
        if outcome == "rejected":
            reason, body = rejected[item.path]
            assert reason and body == files[item.path]
    # the URL of every rejected body is in the run's summary
    failed_paths = {f["url"].split("/programme/", 1)[1] for f in report.failed}
    assert {m.path for m, o in results if o == "rejected"} <= failed_paths

    # the untouched last day landed whole, and the impossible start time was flagged, not fatal
    last = end.strftime("%d%m%Y")
    untouched = {path: body for path, body in files.items() if path.startswith(last)}
    landed = query(
        db_url,
        "select url from raw.pmu_participants where race_date = %s union all "
        "select url from raw.pmu_performances where race_date = %s union all "
        "select url from raw.pmu_rapports where race_date = %s union all "
        "select url from raw.pmu_programme where race_date = %s",
        (end,) * 4,
    )
    assert sorted(url.split("/programme/", 1)[1] for (url,) in landed) == sorted(untouched)
    assert (
        query(
            db_url, "select count(*) from staging.stg_pmu__programme_snapshots where has_out_of_range_time"
        )[0][0]
        >= 1
    )
    # the programme whose meeting number came as text still had its races fetched
    first = start.strftime("%d%m%Y")
    assert not [f for f in report.failed if f["url"].endswith(f"/programme/{first}")]
