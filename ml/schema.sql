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
