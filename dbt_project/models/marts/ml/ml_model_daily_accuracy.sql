{#- Past accuracy of every published model, per race day: how its pre-race probabilities
    (modeling.predictions, written by `pmu score`) fared once the results were known
    (fct_runner_result). Only races with a result count; withdrawn runners are left out.
    The pre-hook creates the modeling tables when no model was ever scored: it is ml/schema.sql
    verbatim (tests/test_ml_dbt.py checks they stay identical). -#}
{% set modeling_ddl %}
-- The model registry and published predictions (schema `modeling`). Idempotent: applied by
-- ml.registry.ensure_tables() and, identically, by the pre-hook of the dbt mart ml_model_daily_accuracy.
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
{% endset %}

{{ config(materialized='table', pre_hook=modeling_ddl) }}

{%- set value_bet_edge = 0.05 -%}

with predictions as (
    select * from {{ source('modeling', 'predictions') }}
),

results as (
    select
        race_id,
        num_pmu,
        is_non_runner,
        is_winner,
        final_odds
    from {{ ref('fct_runner_result') }}
),

scored as (
    select
        predictions.model_id,
        predictions.model_name,
        predictions.model_version,
        predictions.race_date,
        predictions.race_id,
        predictions.probability,
        predictions.rank,
        predictions.edge,
        predictions.market_odds,
        results.is_winner,
        results.final_odds,
        count(*) filter (where results.is_winner) over (
            partition by predictions.model_id, predictions.race_id
        ) as winners
    from predictions
    inner join results
        on predictions.race_id = results.race_id and predictions.num_pmu = results.num_pmu
    where not results.is_non_runner
),

per_race as (
    select
        model_id,
        model_name,
        model_version,
        race_date,
        race_id,
        -- a k-way dead heat counts 1/k for each winner, as in ml/metrics.py. Sums run in numeric:
        -- float sums depend on row order, and a rebuild must give the same table bit for bit.
        -sum(
            case
                when is_winner then (ln(greatest(probability, 1e-12::double precision)) / winners)::numeric
                else 0
            end
        ) as neg_log_likelihood,
        ln(count(*))::numeric as uniform_neg_log_likelihood,
        bool_or(is_winner and rank = 1) as top_pick_won,
        count(*) filter (where edge > {{ value_bet_edge }}) as value_bets,
        coalesce(sum(
            case
                when edge > {{ value_bet_edge }} and is_winner
                    then (coalesce(final_odds, market_odds) / winners - 1)::numeric
                when edge > {{ value_bet_edge }} then -1
            end
        ), 0) as value_bet_profit
    from scored
    where winners > 0
    group by model_id, model_name, model_version, race_date, race_id
)

select
    model_id,
    model_name,
    model_version,
    race_date,
    count(*) as races,
    avg(neg_log_likelihood)::double precision as log_loss,
    (1 - sum(neg_log_likelihood) / nullif(sum(uniform_neg_log_likelihood), 0))::double precision as pseudo_r2,
    avg(top_pick_won::int)::double precision as hit_rate,
    sum(value_bets) as value_bets,
    sum(value_bet_profit)::double precision as value_bet_profit,
    (sum(value_bet_profit) / nullif(sum(value_bets), 0))::double precision as roi
from per_race
group by model_id, model_name, model_version, race_date
