{#- Every odds snapshot of every runner with the time its body was served: pre-race features pick
    the latest one served before their cut-off. -#}
{{ config(materialized='view') }}

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
    odds_reference,
    odds_reference_at,
    is_market_favourite
from {{ ref('stg_pmu__participant_snapshots') }}
