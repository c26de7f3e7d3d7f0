"""The API's typed responses (pydantic): what /docs shows and what every endpoint returns."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    id: int
    name: str
    version: int
    kind: str
    status: str
    trained_at: dt.datetime
    train_start: dt.date | None = None
    train_end: dt.date | None = None
    feature_hash: str
    features: list[str]
    metrics: dict = Field(default_factory=dict)


class ModelRef(BaseModel):
    id: int
    name: str
    version: int


class Health(BaseModel):
    database: str = Field(description="ok, or why the warehouse cannot be read (503)")
    latest_landed_day: dt.date | None = Field(None, description="latest race day in raw.pmu_programme")
    latest_scored_day: dt.date | None = Field(None, description="latest race day with a publication")
    production_models: list[ModelRef] = Field(default_factory=list, description="production model per name")
    latest_publication_at: dt.datetime | None = None
    latest_publication_age_s: float | None = Field(None, description="seconds since the latest publication")


class Contribution(BaseModel):
    feature: str
    value: float | None = None
    contribution: float = Field(description="contribution to the runner's log-score within its race")


class RunnerPrediction(BaseModel):
    num_pmu: int
    probability: float = Field(description="win probability (model combined with the market)")
    p_model: float | None = Field(None, description="the model alone, before the market")
    rank: int
    fair_odds: float = Field(description="1 / probability")
    market_odds: float | None = Field(None, description="market odds at as_of")
    market_prob: float | None = Field(None, description="market probability (normalised) at as_of")
    edge: float | None = Field(None, description="probability × odds - 1 at as_of")
    kelly_fraction: float | None = Field(None, description="Kelly stake, capped, as published")
    p_place: float | None = None
    explanation: list[Contribution] | None = Field(None, description="top feature contributions")


class RacePrediction(BaseModel):
    race_id: str = Field(description="YYYY-MM-DD-R{n}-C{n}, e.g. 2025-11-05-R1-C1")
    race_start_at: dt.datetime | None = None
    publication_id: int
    published_at: dt.datetime = Field(description="when the race was scored")
    trigger: str = Field(description="what asked for the publication: morning, odds_moved, manual, ...")
    as_of: dt.datetime = Field(description="when the inputs were true: the market snapshot's served_at")
    staleness_ms: int = Field(description="milliseconds between as_of and the answer")
    runners: list[RunnerPrediction]


class DayPredictions(BaseModel):
    date: dt.date
    model: ModelRef
    as_of: dt.datetime | None = Field(None, description="the audit time asked for (null: the latest)")
    races: list[RacePrediction]


class Publication(BaseModel):
    publication_id: int
    published_at: dt.datetime
    market_served_at: dt.datetime | None = None
    trigger: str
    races: int
    runners: int


class AuditTrail(DayPredictions):
    publications: list[Publication] = Field(description="the day's publications up to as_of")


class Signal(BaseModel):
    race_id: str
    race_start_at: dt.datetime | None = None
    num_pmu: int
    probability: float
    market_odds: float | None
    edge: float
    stake_fraction: float = Field(description="fraction × Kelly, capped, of the bankroll")
    stake: float = Field(description="stake_fraction × bankroll")
    as_of: dt.datetime
    staleness_ms: int
    publication_id: int


class Signals(BaseModel):
    date: dt.date
    model: ModelRef
    min_edge: float
    bankroll: float
    kelly_multiplier: float
    kelly_cap: float
    signals: list[Signal]


class AccuracyDay(BaseModel):
    model_id: int
    model_name: str
    model_version: int
    race_date: dt.date
    races: int
    log_loss: float | None = None
    pseudo_r2: float | None = None
    market_races: int | None = None
    market_log_loss: float | None = None
    market_pseudo_r2: float | None = None
    hit_rate: float | None = None
    value_bets: int | None = None
    value_bet_profit: float | None = None
    roi: float | None = None
    value_bet_clv: float | None = None


class Problem(BaseModel):
    detail: str
