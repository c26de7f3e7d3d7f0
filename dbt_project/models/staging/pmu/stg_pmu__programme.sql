{#- One row per race of the latest programme body of each day (see stg_pmu__programme_snapshots). -#}
{{ config(materialized='view') }}

select *
from {{ ref('stg_pmu__programme_snapshots') }}
where is_latest_snapshot
