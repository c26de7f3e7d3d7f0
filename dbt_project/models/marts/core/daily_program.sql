{#- One row per race day: what its latest programme holds. -#}
{{ config(indexes=[{'columns': ['race_date'], 'unique': True}]) }}

select
    race_date,
    min(programme_raw_id) as programme_raw_id,
    min(programme_served_at) as programme_served_at,
    count(distinct meeting_id)::integer as meetings,
    count(distinct meeting_id) filter (where country_code = 'FRA')::integer as meetings_in_france,
    count(race_id)::integer as races,
    count(race_id) filter (where race_status = 'COURSE_ANNULEE')::integer as cancelled_races,
    count(
        race_id) filter (
        where jsonb_typeof(finish_order_json) = 'array'
        and jsonb_array_length(finish_order_json) > 0
    )::integer as races_with_result,
    min(race_start_at) as first_race_start_at,
    max(race_start_at) as last_race_start_at
from {{ ref('stg_pmu__programme') }}
where {{ race_date_window() }}
group by race_date
