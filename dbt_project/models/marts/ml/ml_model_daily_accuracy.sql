{#- Past accuracy of every published model, per race day: how its pre-race probabilities
    (modeling.predictions, written by `pmu score`) fared once the results were known
    (fct_runner_result). Only races with a result count; withdrawn runners are left out.
    modeling.* is a dbt source whose DDL exists only in ml/schema.sql (applied by
    ml.registry.ensure_tables, run by `pmu train` and `pmu score`). Until then the tables do not
    exist and the mart builds empty, with the columns and types it has once they do. -#}
{%- set predictions_source = source('modeling', 'predictions') -%}
{%- set predictions_relation = none -%}
{%- if execute -%}
    {%- set predictions_relation = adapter.get_relation(
        database=predictions_source.database,
        schema=predictions_source.schema,
        identifier=predictions_source.identifier,
    ) -%}
{%- endif %}

{%- set value_bet_edge = 0.05 -%}

with predictions as (
    {%- if predictions_relation is not none %}
        select * from {{ predictions_source }}
    {%- else %}
        -- no modeling.predictions yet: no rows, with the types of its columns in ml/schema.sql
        select
            null::bigint as model_id,
            null::text as model_name,
            null::integer as model_version,
            null::text as race_id,
            null::date as race_date,
            null::integer as num_pmu,
            null::double precision as probability,
            null::integer as rank,
            null::double precision as market_odds,
            null::double precision as edge
        where false
    {%- endif %}
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
