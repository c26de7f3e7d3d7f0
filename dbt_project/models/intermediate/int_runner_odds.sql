{#- Odds of each runner from its timed snapshots (stg_pmu__odds_snapshots), against the race start:
    morning odds = the first snapshot served before the start; final odds = the last snapshot
    served at or after the start (null while the race has not been seen run); latest odds = the
    last snapshot whatever its time. `dernierRapportReference` is not used: it is not reliably a
    morning price. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='race_date',
        indexes=[{'columns': ['race_date']}],
    )
}}

with snapshots as (
    select
        race_id,
        race_date,
        num_pmu,
        snapshot_served_at,
        snapshot_raw_id,
        odds_direct
    from {{ ref('stg_pmu__odds_snapshots') }}
    where odds_direct is not null and {{ race_date_window() }}
),

races as (
    select
        race_id,
        race_start_at
    from {{ ref('stg_pmu__programme') }}
    where race_id is not null and {{ race_date_window() }}
)

select
    snapshots.race_id,
    snapshots.race_date,
    snapshots.num_pmu,
    count(*)::integer as odds_snapshots,
    (array_agg(snapshots.odds_direct order by snapshots.snapshot_served_at, snapshots.snapshot_raw_id)
        filter (where snapshots.snapshot_served_at < races.race_start_at))[1] as morning_odds,
    min(snapshots.snapshot_served_at)
        filter (where snapshots.snapshot_served_at < races.race_start_at) as morning_odds_served_at,
    (array_agg(snapshots.odds_direct
        order by snapshots.snapshot_served_at desc, snapshots.snapshot_raw_id desc)
        filter (where snapshots.snapshot_served_at >= races.race_start_at))[1] as final_odds,
    (array_agg(snapshots.odds_direct
        order by snapshots.snapshot_served_at desc, snapshots.snapshot_raw_id desc))[1] as latest_odds,
    max(snapshots.snapshot_served_at) as latest_odds_served_at
from snapshots
left join races on snapshots.race_id = races.race_id
group by snapshots.race_id, snapshots.race_date, snapshots.num_pmu
