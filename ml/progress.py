"""Progress bars on stderr for long ML steps (tqdm: totals, rate and ETA), off unless asked for,
so library calls and the Dagster assets stay quiet and the CLI shows where the time goes."""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(total: int | None, desc: str, *, enabled: bool, unit: str = "it", leave: bool = True) -> tqdm:
    """A tqdm bar on stderr (a no-op object when not enabled)."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=not enabled,
        leave=leave,
        mininterval=0.5,
        dynamic_ncols=True,
    )


def lgbm_rounds_callback(progress: tqdm, label: str):
    """A LightGBM callback that shows the boosting round of the current fit in the bar's postfix."""

    def _callback(env) -> None:
        progress.set_postfix_str(f"{label}: round {env.iteration + 1}/{env.end_iteration}", refresh=False)

    _callback.order = 30  # after early stopping's own bookkeeping
    return _callback
