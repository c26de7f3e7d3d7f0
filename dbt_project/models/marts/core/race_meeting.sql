{#- Meetings (réunions): one per day and meeting `numOfficiel`, key meeting_id `YYYY-MM-DD-R{n}`.
    Going is measured per race: the meeting shows its first race's measure. -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['meeting_id'], 'unique': True}]) }}

select distinct on (meeting_id)
    meeting_id,
    race_date,
    meeting_num,
    meeting_num_external,
    hippodrome_code,
    hippodrome_name,
    hippodrome_long_name,
    country_code,
    country_name,
    meeting_disciplines as disciplines,
    meeting_specialties as specialties,
    meeting_nature as nature,
    meeting_audience as audience,
    meeting_status,
    weather_code,
    weather_label,
    temperature_c,
    wind_speed_kmh,
    wind_direction,
    weather_forecast_at,
    first_value(going_value) over meeting_going as going_value,
    first_value(going_label) over meeting_going as going_label,
    count(race_id) over (partition by meeting_id)::integer as races
from {{ ref('stg_pmu__programme') }}
where {{ race_date_window() }}
window
    meeting_going as (
        partition by meeting_id order by (going_value is null), race_num
        rows between unbounded preceding and unbounded following
    )
order by meeting_id, race_num
