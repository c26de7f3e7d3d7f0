{#- Racecourses, one row per code as races carry it (the race's own hippodrome code, else its
    meeting's: the code int_race_pit and the statistics use), with what the programme says of
    them: names of the latest meeting, country, disciplines, track surfaces and rail sides raced. -#}
{{ config(materialized='view') }}

with races as (
    select
        coalesce(race_hippodrome_code, hippodrome_code) as hippodrome_code,
        hippodrome_name,
        hippodrome_long_name,
        country_code,
        country_name,
        meeting_id,
        race_id,
        race_date,
        discipline,
        track_surface,
        rail_side
    from {{ ref('stg_pmu__programme') }}
    where race_id is not null and coalesce(race_hippodrome_code, hippodrome_code) is not null
)

select
    hippodrome_code,
    (array_agg(hippodrome_name order by race_date desc, race_id desc))[1] as hippodrome_name,
    (array_agg(hippodrome_long_name order by race_date desc, race_id desc))[1] as hippodrome_long_name,
    (array_agg(country_code order by race_date desc, race_id desc))[1] as country_code,
    (array_agg(country_name order by race_date desc, race_id desc))[1] as country_name,
    string_agg(distinct discipline, ',' order by discipline) as disciplines,
    string_agg(distinct track_surface, ',' order by track_surface) as track_surfaces,
    string_agg(distinct rail_side, ',' order by rail_side) as rail_sides,
    count(distinct meeting_id) as meetings,
    count(*) as races,
    min(race_date) as first_seen_date,
    max(race_date) as last_seen_date
from races
group by hippodrome_code
