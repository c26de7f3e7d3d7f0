"""The accuracy dashboard (`/dashboard`): one server-rendered HTML page, charts as inline SVG
(serving/svg.py), no script and nothing fetched from elsewhere, so it works offline.

Today's races (model vs market probabilities, signals, staleness); for the model, its daily log
loss and pseudo-R² beside the market's, the calibration curve and the cumulative ROI of its value
bets against backing the market favourite and the takeout line, all judged on the last publication
before each race's start; the registry."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from html import escape
from urllib.parse import quote

import numpy as np

from pmu_core.facts import DEFAULT_MIN_EDGE, WIN_POOL_TAKEOUT
from serving import queries
from serving.svg import Series, bar_chart, line_chart

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; }
.race { border: 1px solid #ddd; padding: .5rem; border-radius: 4px; width: 390px; }
.race p { margin: .3rem 0; }
table { border-collapse: collapse; font-size: .85rem; } td, th { border: 1px solid #ddd; padding: 2px 6px; }
.muted { color: #777; font-size: .85rem; }
"""


def calibration_bins(p: np.ndarray, won: np.ndarray, bins: int = 10) -> tuple[list[float], list[float]]:
    """(mean predicted p, observed win rate) per quantile bin of p."""
    if len(p) == 0:
        return [], []
    order = np.argsort(p, kind="stable")
    means, rates = [], []
    for chunk in np.array_split(order, min(bins, len(p))):
        if len(chunk):
            means.append(float(p[chunk].mean()))
            rates.append(float(won[chunk].mean()))
    return means, rates


def cumulative_roi(rows: list[dict], min_edge: float = DEFAULT_MIN_EDGE) -> dict[str, list[float | None]]:
    """Per decided race in start order, the cumulative ROI (profit / stakes so far) of flat 1-unit
    bets: the model's value bets (edge > min_edge at publication) and the market favourite (highest
    market probability at publication), both paid at the final odds (a k-way dead heat pays 1/k)."""
    races: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        races[row["race_id"]].append(row)
    ordered = sorted(races.values(), key=lambda runners: (runners[0]["race_start_at"], runners[0]["race_id"]))
    totals = {"value": [0.0, 0], "favourite": [0.0, 0]}
    out: dict[str, list[float | None]] = {"value": [], "favourite": []}

    def payout(runner: dict, winners: int) -> float:
        odds = runner["final_odds"] or runner["market_odds"] or 0.0
        return float(odds) / winners - 1.0 if runner["is_winner"] else -1.0

    for runners in ordered:
        winners = max(sum(1 for r in runners if r["is_winner"]), 1)
        for r in runners:
            if r["edge"] is not None and r["edge"] > min_edge:
                totals["value"][0] += payout(r, winners)
                totals["value"][1] += 1
        priced = [r for r in runners if r["market_prob"] is not None]
        if priced:
            favourite = max(priced, key=lambda r: (r["market_prob"], -r["num_pmu"]))
            totals["favourite"][0] += payout(favourite, winners)
            totals["favourite"][1] += 1
        for key, (profit, stakes) in totals.items():
            out[key].append(profit / stakes if stakes else None)
    return out


def _table(headers: list[str], rows: list[list], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def _staleness(ms: int) -> str:
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.0f} days"


def today_section(races: list[dict]) -> str:
    if not races:
        return '<p class="muted" id="no-races">nothing published for this day yet</p>'
    cards = []
    for race in races:
        runners = sorted(race["runners"], key=lambda r: r["num_pmu"])
        chart = bar_chart(
            f"{race['race_id']}: model vs market",
            [str(r["num_pmu"]) for r in runners],
            [("model", [r["probability"] for r in runners]), ("market", [r["market_prob"] for r in runners])],
            width=380,
            height=180,
        )
        value = [r for r in runners if r["edge"] is not None and r["edge"] > DEFAULT_MIN_EDGE]
        signals = (
            _table(
                ["no.", "p", "odds", "edge", "Kelly"],
                [
                    [r["num_pmu"], r["probability"], r["market_odds"], r["edge"], r["kelly_fraction"]]
                    for r in value
                ],
                "signals",
            )
            if value
            else '<p class="muted">no value bet</p>'
        )
        start = race["race_start_at"].isoformat(timespec="minutes") if race["race_start_at"] else "?"
        cards.append(
            f'<div class="race" data-race="{escape(race["race_id"])}">{chart}'
            f'<p class="muted">start {escape(start)} · published {escape(_cell(race["published_at"]))} '
            f"({escape(race['trigger'])}) · as of {escape(_cell(race['as_of']))} · "
            f'<span class="staleness">stale {escape(_staleness(race["staleness_ms"]))}</span></p>'
            f"{signals}</div>"
        )
    return '<div class="grid" id="today">' + "".join(cards) + "</div>"


def model_section(accuracy_rows: list[dict], decided: list[dict]) -> str:
    days = [r["race_date"] for r in accuracy_rows]
    xs = [d.toordinal() for d in days]
    labels = [(x, d.strftime("%m-%d")) for x, d in zip(xs, days, strict=True)][:: max(len(xs) // 6, 1)]
    log_loss = line_chart(
        "daily log loss (lower is better)",
        [
            Series("model", xs, [r["log_loss"] for r in accuracy_rows]),
            Series("market", xs, [r["market_log_loss"] for r in accuracy_rows], dashed=True),
        ],
        x_labels=labels,
        points=len(xs) < 40,
    )
    r2 = line_chart(
        "daily pseudo-R²",
        [
            Series("model", xs, [r["pseudo_r2"] for r in accuracy_rows]),
            Series("market", xs, [r["market_pseudo_r2"] for r in accuracy_rows], dashed=True),
        ],
        x_labels=labels,
        points=len(xs) < 40,
    )
    p = np.array([r["probability"] for r in decided], dtype=float)
    won = np.array([1.0 if r["is_winner"] else 0.0 for r in decided])
    mean_p, rate = calibration_bins(p, won)
    calibration = line_chart(
        f"calibration ({len(p)} runners, deciles)",
        [Series("win rate", mean_p, rate)],
        diagonal=True,
        points=True,
    )
    roi = cumulative_roi(decided)
    n = list(range(1, len(roi["value"]) + 1))
    roi_chart = line_chart(
        "cumulative ROI per race (flat stakes, final odds)",
        [Series("value bets", n, roi["value"]), Series("favourite", n, roi["favourite"])],
        hlines=[("takeout", -WIN_POOL_TAKEOUT)],
    )
    table = _table(
        ["day", "races", "log loss", "market", "pseudo-R²", "market", "hit rate", "bets", "ROI", "CLV"],
        [
            [
                r["race_date"],
                r["races"],
                r["log_loss"],
                r["market_log_loss"],
                r["pseudo_r2"],
                r["market_pseudo_r2"],
                r["hit_rate"],
                r["value_bets"],
                r["roi"],
                r["value_bet_clv"],
            ]
            for r in accuracy_rows[-14:]
        ],
        "accuracy",
    )
    return f'<div class="grid" id="accuracy-charts">{log_loss}{r2}{calibration}{roi_chart}</div>{table}'


def registry_section(models: list[dict]) -> str:
    rows = [
        [m["name"], m["version"], m["kind"], m["status"], m["trained_at"], m["train_start"], m["train_end"]]
        for m in models
    ]
    links = " · ".join(
        f'<a href="/dashboard?model={quote(label)}">{escape(label)}</a>'
        for label in (f"{m['name']}@{m['version']}" for m in models)
    )
    table = _table(["name", "version", "kind", "status", "trained at", "from", "to"], rows, "registry")
    return table + f'<p class="muted">dashboard of: {links}</p>'


def render(conn, day: dt.date, model: dict, *, now: dt.datetime) -> str:
    races = queries.published_races(conn, model["id"], day, now=now)
    accuracy_rows = queries.accuracy(conn, model, None, None)
    decided = queries.decided_publications(conn, model["id"])
    label = f"{model['name']}@{model['version']}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>pmu-warehouse: {escape(label)}</title>"
        '<link rel="icon" href="data:,">'  # no favicon request
        f"<style>{STYLE}</style></head><body>"
        f"<h1>pmu-warehouse · {escape(label)}</h1>"
        f'<p class="muted">generated {escape(_cell(now))}; accuracy judged on the last publication '
        "before each race's start</p>"
        f"<h2>Accuracy of {escape(label)}</h2>{model_section(accuracy_rows, decided)}"
        f"<h2>Races of {escape(day.isoformat())}</h2>{today_section(races)}"
        f'<h2>Registry</h2><div id="registry">{registry_section(queries.models(conn))}</div>'
        "</body></html>"
    )
