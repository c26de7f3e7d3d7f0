"""Read the true win probabilities written beside synthetic days (`DIR/truth/DDMMYYYY.csv`)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path


def read_truth(root: Path, day: date | None = None) -> dict[str, dict[int, float]]:
    """race_id ('YYYY-MM-DD-R{n}-C{n}') -> numPmu -> true win probability, for one day or all days
    under `root` (the folder given to `pmu synth --out`). Cancelled races are absent; non-runners
    have probability 0."""
    folder = Path(root) / "truth"
    paths = [folder / f"{day.strftime('%d%m%Y')}.csv"] if day else sorted(folder.glob("*.csv"))
    truth: dict[str, dict[int, float]] = {}
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no truth file {path} (was it written by pmu synth?)")
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                truth.setdefault(row["race_id"], {})[int(row["numPmu"])] = float(row["p_true"])
    return truth
