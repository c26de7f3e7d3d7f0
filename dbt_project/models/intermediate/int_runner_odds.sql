{#- Odds of each runner from its timed snapshots (stg_pmu__odds_snapshots), against the race start:
    morning odds = the first snapshot served before the start; final odds = the last snapshot
    served at or after the start (null while the race has not been seen run); latest odds = the
    last snapshot whatever its time. `dernierRapportReference` is not used: it is not reliably a
    morning price. -#}
{{ config(indexes=[{'columns': ['race_date']}]) }}

with snapshots as (
    select
        odds.race_id,
        odds.race_date,
        odds.num_pmu,
        odds.snapshot_served_at,
        odds.snapshot_raw_id,
        odds.odds_direct,
        odds.snapshot_served_at < races.race_start_at as is_before_start
    from {{ ref('stg_pmu__odds_snapshots') }} as odds
    left join {{ ref('stg_pmu__programme') }} as races
        on odds.race_id = races.race_id and {{ race_date_window('races.race_date') }}
    where odds.odds_direct is not null and {{ race_date_window('odds.race_date') }}
),

morning as (
    select distinct on (race_id, num_pmu)
        race_id,
        num_pmu,
        odds_direct as morning_odds,
        snapshot_served_at as morning_odds_served_at
    from snapshots
    where is_before_start
    order by race_id, num_pmu, snapshot_served_at, snapshot_raw_id
),

final as (
    select distinct on (race_id, num_pmu)
        race_id,
        num_pmu,
        odds_direct as final_odds
    from snapshots
    where not is_before_start
    order by race_id asc, num_pmu asc, snapshot_served_at desc, snapshot_raw_id desc
),

latest as (
    select distinct on (race_id, num_pmu)
        race_id,
        race_date,
        num_pmu,
        odds_direct as latest_odds,
        snapshot_served_at as latest_odds_served_at,
        count(*) over (partition by race_id, num_pmu) as odds_snapshots
    from snapshots
    order by race_id asc, num_pmu asc, snapshot_served_at desc, snapshot_raw_id desc
)

select
    latest.race_id,
    latest.race_date,
    latest.num_pmu,
    latest.odds_snapshots::integer as odds_snapshots,
    morning.morning_odds,
    morning.morning_odds_served_at,
    final.final_odds,
    latest.latest_odds,
    latest.latest_odds_served_at
from latest
left join morning on latest.race_id = morning.race_id and latest.num_pmu = morning.num_pmu
left join final on latest.race_id = final.race_id and latest.num_pmu = final.num_pmu
