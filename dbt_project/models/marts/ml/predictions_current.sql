{#- What a consumer reads to bet today: the production model's latest pre-race prediction of each
    runner, with the names of the horse, jockey, trainer and hippodrome, the market odds, and a
    value-bet flag. A value bet needs both a probability of at least var('value_bet_min_probability')
    (the 100/1 outsiders with p ≈ 0.002 are out) and an edge p·odds - 1 above var('value_bet_min_edge').
    Reads modeling.predictions (one row per model and runner, replaced at each scoring); a row whose
    market snapshot was served at or after the start is not a pre-race publication and is left out.
    Until `pmu train` / `pmu score` create modeling.* the mart builds empty. The depends_on line
    gives dbt and Dagster its lineage from the scoring (the asset modeling/predictions writes
    both tables; dagster-dbt allows one dbt source per asset key), which the existence test
    hides from a parse: a run builds the mart after the scoring. -#}
{%- set min_probability = var('value_bet_min_probability', 0.05) -%}
{%- set min_edge = var('value_bet_min_edge', 0.05) -%}

-- depends_on: {{ source('modeling', 'published_predictions') }}
with predictions as (
    {%- if source_exists('modeling', 'predictions') and source_exists('modeling', 'models') %}
        select
            predictions.model_id,
            predictions.model_name,
            predictions.model_version,
            predictions.race_id,
            predictions.num_pmu,
            predictions.probability,
            predictions.rank,
            predictions.fair_odds,
            predictions.market_odds,
            predictions.market_prob,
            predictions.market_served_at,
            predictions.edge,
            predictions.kelly_fraction,
            predictions.scored_at
        from {{ source('modeling', 'predictions') }} as predictions
        inner join {{ source('modeling', 'models') }} as models
            on predictions.model_id = models.id
        where models.status = 'production'
    {%- else %}
        -- no modeling tables yet: no rows, with the types of ml/schema.sql
        select
            null::bigint as model_id,
            null::text as model_name,
            null::integer as model_version,
            null::text as race_id,
            null::integer as num_pmu,
            null::double precision as probability,
            null::integer as rank,
            null::double precision as fair_odds,
            null::double precision as market_odds,
            null::double precision as market_prob,
            null::timestamptz as market_served_at,
            null::double precision as edge,
            null::double precision as kelly_fraction,
            null::timestamptz as scored_at
        where false
    {%- endif %}
)

select
    predictions.model_name,
    predictions.model_version,
    predictions.model_id,
    race.race_id,
    race.race_date,
    race.race_start_at,
    race.meeting_id,
    meeting.hippodrome_name,
    race.race_name,
    race.discipline,
    race.distance_m,
    predictions.num_pmu,
    runner.horse_key,
    runner.horse_name,
    runner.jockey_name,
    trainer.trainer_name,
    predictions.probability,
    predictions.rank,
    predictions.fair_odds,
    predictions.market_odds,
    predictions.market_prob,
    predictions.market_served_at,
    predictions.edge,
    predictions.kelly_fraction,
    predictions.scored_at,
    coalesce(runner.is_non_runner, false) as is_non_runner,
    -- the market's favourite when the model scored: the lowest odds of the race at that snapshot
    coalesce(
        predictions.market_odds = min(predictions.market_odds) over (
            partition by predictions.model_id, predictions.race_id
        ),
        false
    ) as is_favourite,
    coalesce(
        predictions.probability >= {{ min_probability }}
        and predictions.edge > {{ min_edge }}
        and not coalesce(runner.is_non_runner, false),
        false
    ) as is_value_bet
from predictions
inner join {{ ref('race') }} as race
    on predictions.race_id = race.race_id
left join {{ ref('race_meeting') }} as meeting
    on race.meeting_id = meeting.meeting_id
left join {{ ref('race_participant') }} as runner
    on predictions.race_id = runner.race_id and predictions.num_pmu = runner.num_pmu
left join {{ ref('trainer') }} as trainer
    on runner.trainer_key = trainer.trainer_key
where predictions.market_served_at is null or predictions.market_served_at < race.race_start_at
