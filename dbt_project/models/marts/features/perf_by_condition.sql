{#- Analyst mart (DarkHorses-style): how horses, jockeys/drivers and trainers perform by distance
    band, racecourse and going, over every finished race in the warehouse. Long format: filter
    on entity_type and condition_type, e.g. a horse's record on heavy ground:
      select * from marts.perf_by_condition
      where entity_type = 'horse' and entity_key = '...' and condition_type = 'going'. -#}
{{ config(materialized='table', indexes=[{'columns': ['entity_type', 'entity_key']}]) }}

with runs as (
    select
        horse_key,
        jockey_key,
        trainer_key,
        race_date,
        discipline,
        distance_band,
        hippodrome_code,
        coalesce(going_label, 'unmeasured') as going,
        finish_place,
        is_winner,
        is_placed
    from {{ ref('int_runner_outcome') }}
    where is_starter
),

-- noqa: disable=LT02
by_entity as (
    {%- for entity in ['horse', 'jockey', 'trainer'] %}
    {%- for condition, expr in [('distance_band', "discipline || ' ' || distance_band"),
                                ('hippodrome', 'hippodrome_code'), ('going', 'going')] %}
    select
        '{{ entity }}' as entity_type,
        {{ entity }}_key as entity_key,
        '{{ condition }}' as condition_type,
        {{ expr }} as condition_value,
        race_date,
        finish_place,
        is_winner,
        is_placed
    from runs
    where {{ entity }}_key is not null
    {{ "union all" if not loop.last }}
    {%- endfor %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
)
-- noqa: enable=LT02

select
    entity_type,
    entity_key,
    condition_type,
    condition_value,
    count(*) as starts,  -- noqa: RF04
    count(*) filter (where is_winner) as wins,
    count(*) filter (where is_placed) as places,
    round(avg(is_winner::int), 4) as win_rate,
    round(avg(is_placed::int), 4) as place_rate,
    round(avg(finish_place), 2) as avg_finish_place,
    min(race_date) as first_run_date,
    max(race_date) as last_run_date
from by_entity
where condition_value is not null
group by entity_type, entity_key, condition_type, condition_value
