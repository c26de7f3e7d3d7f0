"""The reliability suite (issue 13): hostile input and crashes, end to end. Every test here is
marked `reliability` and `slow` (the fast tier skips it; `make test` runs it)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

FIRST_DAY = date(2025, 3, 3)


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def synthetic_days(tmp_path_factory) -> Path:
    """Ten synthetic days (seeded) as a replay root: what the suite lands, breaks and kills."""
    import synth.days

    root = tmp_path_factory.mktemp("reliability") / "replay"
    synth.days.generate(
        FIRST_DAY, FIRST_DAY + timedelta(days=9), root, seed=13, meetings_per_day=4, burn_in_days=3
    )
    return root
