"""`pmu features`: command-line dates become the marts' half-open window; bad input is refused
before anything runs."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.build import window_vars
from pmu_cli.main import main


def test_inclusive_days_become_a_half_open_window():
    assert window_vars(date(2025, 11, 6), date(2025, 11, 6), None) == {
        "start_date": "2025-11-06",
        "end_date": "2025-11-07",
    }
    assert window_vars(date(2025, 12, 31), None, 10) == {
        "start_date": "2025-12-31",
        "odds_cutoff_minutes": 10,
    }
    assert window_vars(None, None, None) == {}


def test_end_before_start_is_refused(capsys):
    assert main(["features", "build", "--start", "2025-11-06", "--end", "2025-11-05"]) == 2
    assert "before --start" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["features", "build", "--odds-cutoff-minutes", "-5"],
        ["features", "build", "--odds-cutoff-minutes", "5; drop"],
        ["features", "build", "--start", "06/11/2025"],
    ],
)
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "pmu features build: error" in capsys.readouterr().err
