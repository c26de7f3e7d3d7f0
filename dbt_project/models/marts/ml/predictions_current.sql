{#- What a consumer reads to bet: for the production model of each name, its latest publication
    before each race's start (modeling.publications + modeling.published_predictions, the rule of
    marts.ml_model_daily_accuracy: a re-score after the off never shows), with the names of the
    horse, jockey, trainer and hippodrome, the market odds it scored with, and a value-bet flag. A
    value bet needs both a probability of at least var('value_bet_min_probability') (the 100/1
    outsiders with p ≈ 0.002 are out) and an edge p·odds - 1 above var('value_bet_min_edge').
    Until `pmu train` / `pmu score` create modeling.* the mart builds empty. -#}
{%- set min_probability = var('value_bet_min_probability', 0.05) -%}
{%- set min_edge = var('value_bet_min_edge', 0.05) -%}

with published as (
    {{- last_publication_before_start(ref('race')) }}
),

production as (
    {%- if source_exists('modeling', 'models') %}
        select models.id as model_id
        from {{ source('modeling', 'models') }} as models
        where models.status = 'production'
    {%- else %}
        select null::bigint as model_id
        where false
    {%- endif %}
)

select
    published.model_name,
    published.model_version,
    published.model_id,
    race.race_id,
    race.race_date,
    race.race_start_at,
    race.meeting_id,
    meeting.hippodrome_name,
    race.race_name,
    race.discipline,
    race.distance_m,
    published.num_pmu,
    runner.horse_key,
    runner.horse_name,
    runner.jockey_name,
    trainer.trainer_name,
    published.probability,
    published.rank,
    published.fair_odds,
    published.p_place,
    published.market_odds,
    published.market_prob,
    published.market_served_at,
    published.edge,
    published.kelly_fraction,
    published.published_at as scored_at,
    coalesce(runner.is_non_runner, false) as is_non_runner,
    -- the market's favourite when the model scored: the lowest odds of the race at that snapshot
    coalesce(
        published.market_odds = min(published.market_odds) over (
            partition by published.model_id, published.race_id
        ),
        false
    ) as is_favourite,
    coalesce(
        published.probability >= {{ min_probability }}
        and published.edge > {{ min_edge }}
        and not coalesce(runner.is_non_runner, false),
        false
    ) as is_value_bet
from published
inner join production
    on published.model_id = production.model_id
inner join {{ ref('race') }} as race
    on published.race_id = race.race_id
left join {{ ref('race_meeting') }} as meeting
    on race.meeting_id = meeting.meeting_id
left join {{ ref('race_participant') }} as runner
    on published.race_id = runner.race_id and published.num_pmu = runner.num_pmu
left join {{ ref('trainer') }} as trainer
    on runner.trainer_key = trainer.trainer_key
