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

{%- set value_bet_edge = 0.05 -%}

-- the last publication of each model that covered the race before its start (macros/pmu_publications.sql)
with predictions as (
    {{- last_publication_before_start(ref('race')) }}
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
