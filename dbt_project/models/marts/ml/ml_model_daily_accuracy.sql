{#- Past accuracy of every published model, per race day: how its pre-race probabilities fared
    once the results were known (fct_runner_result). Each race is judged on the model's last
    publication served before the race's start (modeling.publications.published_at <
    marts.race.race_start_at), never a later one: a re-score after the off would see the result.
    Only races with a result count; withdrawn runners are left out. The market's log loss is that
    of the market distribution the same publication carried (market_prob), so the two compare on
    the same races and the same as-of time.
    modeling.* is a dbt source whose DDL exists only in ml/schema.sql (applied by
    ml.registry.ensure_tables, run by `pmu train` and `pmu score`). Until then the tables do not
    exist and the mart builds empty, with the columns and types it has once they do. -#}
{%- set published_source = source('modeling', 'published_predictions') -%}
{%- set published_relation = none -%}
{%- if execute -%}
    {%- set published_relation = adapter.get_relation(
        database=published_source.database,
        schema=published_source.schema,
        identifier=published_source.identifier,
    ) -%}
{%- endif %}

{%- set value_bet_edge = 0.05 -%}

with published as (
    {%- if published_relation is not none %}
        select
            publications.publication_id,
            publications.model_id,
            publications.model_name,
            publications.model_version,
            publications.race_date,
            publications.published_at,
            rows.race_id,
            rows.num_pmu,
            rows.probability,
            rows.rank,
            rows.market_odds,
            rows.market_prob,
            rows.edge
        from {{ source('modeling', 'publications') }} as publications
        inner join {{ published_source }} as rows
            on publications.publication_id = rows.publication_id
    {%- else %}
        -- no modeling.published_predictions yet: no rows, with the types of ml/schema.sql
        select
            null::bigint as publication_id,
            null::bigint as model_id,
            null::text as model_name,
            null::integer as model_version,
            null::date as race_date,
            null::timestamptz as published_at,
            null::text as race_id,
            null::integer as num_pmu,
            null::double precision as probability,
            null::integer as rank,
            null::double precision as market_odds,
            null::double precision as market_prob,
            null::double precision as edge
        where false
    {%- endif %}
),

-- the last publication of each model that covered the race before its start
last_before_start as (
    select distinct on (published.model_id, published.race_id)
        published.model_id,
        published.race_id,
        published.publication_id
    from published
    inner join {{ ref('race') }} as races on published.race_id = races.race_id
    where published.published_at < races.race_start_at
    order by
        published.model_id asc,
        published.race_id asc,
        published.published_at desc,
        published.publication_id desc
),

predictions as (
    select published.*
    from published
    inner join last_before_start
        on
            published.publication_id = last_before_start.publication_id
            and published.race_id = last_before_start.race_id
            and published.model_id = last_before_start.model_id
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
        predictions.market_prob,
        predictions.rank,
        predictions.edge,
        predictions.market_odds,
        results.is_winner,
        results.final_odds,
        count(*) filter (where results.is_winner) over (
            partition by predictions.model_id, predictions.race_id
        ) as winners,
        bool_and(predictions.market_prob is not null) over (
            partition by predictions.model_id, predictions.race_id
        ) as race_has_market
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
        -sum(
            case
                when is_winner and race_has_market
                    then (ln(greatest(market_prob, 1e-12::double precision)) / winners)::numeric
                else 0
            end
        ) as market_neg_log_likelihood,
        bool_and(race_has_market) as has_market,
        ln(count(*))::numeric as uniform_neg_log_likelihood,
        bool_or(is_winner and rank = 1) as top_pick_won,
        count(*) filter (where edge > {{ value_bet_edge }}) as value_bets,
        coalesce(sum(
            case
                when edge > {{ value_bet_edge }} and is_winner
                    then (coalesce(final_odds, market_odds) / winners - 1)::numeric
                when edge > {{ value_bet_edge }} then -1
            end
        ), 0) as value_bet_profit,
        -- closing-line value of a value bet: odds at publication / final odds - 1
        sum(
            (market_odds / final_odds - 1)::numeric
        ) filter (where edge > {{ value_bet_edge }} and final_odds > 1) as value_bet_clv_sum,
        count(*) filter (where edge > {{ value_bet_edge }} and final_odds > 1) as value_bets_with_close
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
    count(*) filter (where has_market) as market_races,
    (avg(market_neg_log_likelihood) filter (where has_market))::double precision as market_log_loss,
    (
        1 - sum(market_neg_log_likelihood) filter (where has_market)
        / nullif(sum(uniform_neg_log_likelihood) filter (where has_market), 0)
    )::double precision as market_pseudo_r2,
    avg(top_pick_won::int)::double precision as hit_rate,
    sum(value_bets) as value_bets,
    sum(value_bet_profit)::double precision as value_bet_profit,
    (sum(value_bet_profit) / nullif(sum(value_bets), 0))::double precision as roi,
    (sum(value_bet_clv_sum) / nullif(sum(value_bets_with_close), 0))::double precision as value_bet_clv
from per_race
group by model_id, model_name, model_version, race_date
