{#- One row per runner with a performances-detaillees body: its form from the past races that
    body lists, only those run on a day BEFORE the race (a body fetched after the race must not
    bring the race itself). The body belongs to this very race, so landing later days never
    changes the row. Schema intermediate. -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id', 'num_pmu'], 'unique': true}]) }}

with past as (
    select
        perf.race_id,
        perf.race_date,
        perf.num_pmu,
        perf.past_race_date,
        perf.past_allocation_eur,
        perf.past_distance_m,
        perf.place,
        perf.reduction_km_s,
        row_number() over (
            partition by perf.race_id, perf.num_pmu order by perf.past_race_date desc
        ) as recency
    from {{ ref('stg_pmu__past_performances') }} as perf
    where
        perf.past_race_date < perf.race_date
        and {{ race_date_window('perf.race_date') }}
)

select
    race_id,
    race_date,
    num_pmu,
    count(*) as runs,
    max(past_race_date) as last_run_date,
    max(place) filter (where recency = 1) as last_place,
    max(past_allocation_eur) filter (where recency = 1) as last_allocation_eur,
    max(past_distance_m) filter (where recency = 1) as last_distance_m,
    avg(coalesce(place, 10)) as avg_place,  -- unplaced / did not finish rank behind the 9th
    avg((place = 1)::int) as win_rate,
    avg((place <= 3)::int) as top3_rate,
    min(nullif(reduction_km_s, 0)) as best_seconds_per_km
from past
group by race_id, race_date, num_pmu
