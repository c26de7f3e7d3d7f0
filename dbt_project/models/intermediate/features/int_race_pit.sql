{#- One row per race: what the programme said about the race just before its start.
    Point in time: the latest programme snapshot known before the start it announced; when no
    snapshot was taken before the start (a day first seen late), the earliest one, so that landing
    later snapshots never changes the row. Only pre-race fields are read here. -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id'], 'unique': true}]) }}

with snapshots as (
    select
        programme_raw_id as raw_id,
        race_id,
        race_date,
        programme_served_at as known_at,
        meeting_num,
        race_num,
        race_start_at as start_at,
        discipline,
        specialty,
        distance_m,
        prize_eur,
        -- what each of the first five places is paid (pre-race: the programme announces it)
        prize_1st_eur,
        prize_2nd_eur,
        prize_3rd_eur,
        prize_4th_eur,
        prize_5th_eur,
        coalesce(race_hippodrome_code, hippodrome_code) as hippodrome_code,
        country_code,
        going_value,
        going_label,
        track_surface,
        rail_side,
        declared_runners
    from {{ ref('stg_pmu__programme_snapshots') }}
    where {{ race_date_window('race_date') }}
),

ranked as (
    select
        *,
        known_at < start_at as is_pre_race,
        row_number() over (
            partition by race_date, meeting_num, race_num
            order by
                (known_at < start_at) desc,
                case when known_at < start_at then known_at end desc,
                known_at asc,
                raw_id asc
        ) as pick
    from snapshots
    where start_at is not null
)

select
    race_id,
    race_date,
    meeting_num,
    race_num,
    start_at as race_start_at,
    known_at as programme_known_at,
    is_pre_race as programme_is_pre_race,
    discipline,
    specialty,
    distance_m,
    {{ feat_distance_band('discipline', 'distance_m') }} as distance_band,
    prize_eur,
    prize_1st_eur,
    prize_2nd_eur,
    prize_3rd_eur,
    prize_4th_eur,
    prize_5th_eur,
    hippodrome_code,
    country_code,
    going_value as going_penetrometre,
    going_label,
    {{ feat_going_band('going_label') }} as going_band,
    track_surface as track_type,
    rail_side as rail,
    declared_runners
from ranked
where pick = 1
