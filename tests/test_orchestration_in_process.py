"""The pure parts of the in-process runs `pmu demo` makes (orchestration/in_process.py): the
partition range tags of one run over many days, and the project's clock frozen for a run."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from orchestration.checks import run_days
from orchestration.in_process import frozen_clock, range_tags
from pmu_core import settings


def test_range_tags_cover_the_days_the_checks_read_back():
    tags = range_tags(date(2025, 11, 28), date(2025, 11, 30))
    # the core checks read a run's days from these tags: the same three days come back
    assert run_days(tags) == [date(2025, 11, 28), date(2025, 11, 29), date(2025, 11, 30)]
    with pytest.raises(ValueError, match="empty"):
        range_tags(date(2025, 11, 30), date(2025, 11, 29))


def test_frozen_clock_stands_still_inside_and_is_restored_after(monkeypatch):
    monkeypatch.setenv("PMU_NOW", "2020-01-01T00:00:00+00:00")
    instant = datetime(2025, 11, 30, 8, 30, tzinfo=UTC)
    with frozen_clock(instant):
        assert settings.now() == instant
    assert settings.now() == datetime(2020, 1, 1, tzinfo=UTC)
    monkeypatch.delenv("PMU_NOW")
    with frozen_clock(instant):
        assert settings.now() == instant
    assert not settings.clock_is_set()
    with frozen_clock(None):  # None leaves the clock as it is
        assert not settings.clock_is_set()
