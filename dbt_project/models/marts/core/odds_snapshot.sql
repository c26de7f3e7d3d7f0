{#- Every participants snapshot of every runner with its odds and who was favourite then: the
    runner(s) with the lowest odds of the race in that snapshot among those still declared (ties
    are all favourites; a non-runner is never one). -#}
{{
    config(
        indexes=[{'columns': ['race_date']}, {'columns': ['race_id', 'snapshot_raw_id']}],
    )
}}

with snapshots as (
    select
        *,
        case when coalesce(runner_status, '') <> 'NON_PARTANT' then odds_direct end as runner_odds
    from {{ ref('stg_pmu__odds_snapshots') }}
    where {{ race_date_window() }}
)

select
    race_id,
    race_date,
    num_pmu,
    snapshot_raw_id,
    snapshot_served_at,
    is_latest_snapshot,
    runner_status,
    odds_direct,
    odds_direct_at,
    is_market_favourite,
    case
        when runner_odds is not null
            then rank() over (partition by race_id, snapshot_raw_id order by runner_odds nulls last)
    end as odds_rank,
    coalesce(
        runner_odds = min(runner_odds) over (partition by race_id, snapshot_raw_id), false
    ) as is_favourite
from snapshots
