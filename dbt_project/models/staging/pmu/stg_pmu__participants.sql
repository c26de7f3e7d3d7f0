{#- The latest snapshot of each race's runners: one row per runner (race_id, num_pmu). -#}
{{ config(materialized='view') }}

select *
from {{ ref('stg_pmu__participant_snapshots') }}
where is_latest_snapshot
