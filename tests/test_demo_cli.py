"""The demo's closing lines: what to open next, `pmu serve` only when this build has it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pmu_cli.cmd_demo import _commands, next_steps


def test_next_steps_name_the_ui_the_docs_and_a_query_and_serve_only_when_it_exists():
    ctx = {"today": date(2025, 11, 30), "synth_dir": Path("/x/demo/synth")}
    text = next_steps(ctx, {"ui", "docs"})
    assert "pmu ui --replay /x/demo/synth/morning --now 2025-11-30T07:50" in text
    assert "pmu docs" in text and "from marts.predictions_current where race_date = '2025-11-30'" in text
    assert "pmu serve" not in text
    assert "pmu serve" in next_steps(ctx, {"ui", "docs", "serve"})
    assert {"ui", "docs", "demo", "train"} <= _commands()
