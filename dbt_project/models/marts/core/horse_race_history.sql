{#- Past races of each horse from performances-detaillees, each once per horse: key
    (horse_key, past_race_date) since a horse runs at most once a day. Many bodies repeat the same
    past race: the latest observation wins, and rows already built for the same key compete with
    the window's so that rebuilding an old day does not overwrite a newer observation. -#}
{{
    config(
        unique_key='history_key',
        indexes=[{'columns': ['history_key'], 'unique': True}, {'columns': ['horse_key', 'past_race_date']}],
    )
}}

with performances as (
    select *
    from {{ ref('stg_pmu__past_performances') }}
    where past_race_date is not null and {{ race_date_window('race_date', 'observed_race_date') }}
),

runners as (
    select
        race_id,
        num_pmu,
        horse_key
    from {{ ref('stg_pmu__participants') }}
    where {{ race_date_window('race_date', 'observed_race_date') }}
),

observed as (
    select
        md5(runners.horse_key || '|' || performances.past_race_date::text) as history_key,
        runners.horse_key,
        performances.past_race_date,
        performances.past_hippodrome as hippodrome_name,
        performances.past_race_name as race_name,
        performances.past_discipline as discipline,
        performances.past_allocation_eur as allocation_eur,
        performances.past_distance_m as distance_m,
        performances.past_field_size as field_size,
        performances.place,
        performances.finish_status,
        performances.jockey_name,
        performances.weight_kg,
        performances.draw,
        performances.blinkers,
        performances.distance_to_previous,
        performances.reduction_km_s,
        performances.distance_covered_m,
        performances.past_winner_time_s as winner_time_s,
        performances.race_id as observed_race_id,
        performances.race_date as observed_race_date
    from performances
    inner join runners on performances.race_id = runners.race_id and performances.num_pmu = runners.num_pmu
),

candidates as (
    select
        *,
        1 as priority
    from observed
    {%- if is_incremental() %}
        union all
        select
            *,
            2 as priority
        from {{ this }}
        where history_key in (select observed.history_key from observed)
    {%- endif %}
)

select distinct on (history_key)
    history_key,
    horse_key,
    past_race_date,
    hippodrome_name,
    race_name,
    discipline,
    allocation_eur,
    distance_m,
    field_size,
    place,
    finish_status,
    jockey_name,
    weight_kg,
    draw,
    blinkers,
    distance_to_previous,
    reduction_km_s,
    distance_covered_m,
    winner_time_s,
    observed_race_id,
    observed_race_date
from candidates
order by history_key asc, observed_race_date desc, observed_race_id desc, priority asc
