-- The model registry and published predictions (schema `modeling`): the one definition of these
-- tables. Idempotent: applied by ml.registry.ensure_tables(); dbt reads them as the source `modeling`.
create schema if not exists modeling;

create table if not exists modeling.models (
    id bigint generated always as identity primary key,
    name text not null,
    version integer not null,
    kind text not null,
    trained_at timestamptz not null default now(),
    train_start date,
    train_end date,
    feature_hash text not null,
    features jsonb not null,
    params jsonb not null,
    metrics jsonb not null default '{}'::jsonb,
    artifact_path text not null,
    status text not null default 'candidate'
        check (status in ('candidate', 'production', 'archived')),
    unique (name, version)
);

create unique index if not exists models_one_production_per_name
    on modeling.models (name) where status = 'production';

create table if not exists modeling.predictions (
    model_id bigint not null references modeling.models (id),
    model_name text not null,
    model_version integer not null,
    race_id text not null,
    race_date date not null,
    num_pmu integer not null,
    probability double precision not null check (probability >= 0 and probability <= 1),
    p_model double precision,
    rank integer not null,
    fair_odds double precision not null,
    market_odds double precision,
    market_prob double precision,
    market_served_at timestamptz,
    edge double precision,
    kelly_fraction double precision,
    scored_at timestamptz not null default now(),
    primary key (model_id, race_id, num_pmu)
);

create index if not exists predictions_race_date on modeling.predictions (race_date);

-- Population stability (ml/drift.py) of each feature of a model, and of its probabilities
-- (feature 'p_model'), on a scored day against the model's training window.
create table if not exists modeling.feature_drift (
    model_id bigint not null references modeling.models (id),
    race_date date not null,
    feature text not null,
    psi double precision not null,
    reference_missing double precision not null,
    current_missing double precision not null,
    reference_runners integer not null,
    current_runners integer not null,
    drifted boolean not null,
    computed_at timestamptz not null default now(),
    primary key (model_id, race_date, feature)
);

-- The bets ledger (pipeline/bets.py, `pmu bets`): manual and paper bets, settled on PMU's
-- official dividends (marts.bet_report). A bet names the publication it came from by model and
-- as_of (modeling.predictions.scored_at: when the probabilities were published).
create table if not exists modeling.bets (
    id bigint generated always as identity primary key,
    placed_at timestamptz not null,
    race_id text not null,
    race_date date not null,
    bet_type text not null,
    combination text not null,
    stake double precision not null check (stake > 0),
    odds_seen double precision,
    probability double precision,
    model_id bigint,
    model_name text,
    model_version integer,
    as_of timestamptz,
    market_served_at timestamptz,
    source text not null check (source in ('manual', 'paper')),
    strategy text,
    status text not null default 'open' check (status in ('open', 'won', 'lost', 'refunded')),
    paid_label text,
    dividend_per_eur double precision,
    return_amount double precision,
    closing_odds double precision,
    clv double precision,
    settled_at timestamptz
);

-- paper trading records a publication's value bets once
create unique index if not exists bets_paper_once_per_publication
    on modeling.bets (strategy, model_id, as_of, race_id, bet_type, combination) where source = 'paper';
create index if not exists bets_open on modeling.bets (race_id) where status = 'open';

-- Every scoring run is a publication, kept for ever: what was shown, and when, while a bet was still
-- possible. modeling.predictions above is the latest row per (model, race, runner) for its readers;
-- these two tables are the append-only history the accuracy mart and the API's audit trail read.
create table if not exists modeling.publications (
    publication_id bigint generated always as identity primary key,
    model_id bigint not null references modeling.models (id),
    model_name text not null,
    model_version integer not null,
    race_date date not null,
    published_at timestamptz not null,  -- scoring time
    market_served_at timestamptz,  -- served_at of the latest market snapshot among the inputs
    trigger text not null,  -- morning, odds_moved, manual, ...
    races integer not null,
    runners integer not null
);

create index if not exists publications_day on modeling.publications (race_date, model_id, published_at);

create table if not exists modeling.published_predictions (
    publication_id bigint not null references modeling.publications (publication_id),
    race_id text not null,
    num_pmu integer not null,
    probability double precision not null check (probability >= 0 and probability <= 1),
    p_model double precision,
    rank integer not null,
    fair_odds double precision not null,
    market_odds double precision,
    market_prob double precision,
    market_served_at timestamptz,
    edge double precision,
    kelly_fraction double precision,
    p_place double precision,  -- place probability, from the finishing-order model where there is one
    explanation jsonb,  -- top feature contributions: [{"feature": ..., "contribution": ...}, ...]
    primary key (publication_id, race_id, num_pmu)
);

create index if not exists published_predictions_race on modeling.published_predictions (race_id);
