{#- One row per day, for dbt's semantic layer (MetricFlow needs a time spine): the partitions'
    first day to the end of the decade. -#}
{{ config(materialized='table') }}

select spine_day::date as date_day
from generate_series('2018-01-01'::date, '2030-12-31'::date, interval '1 day') as spine (spine_day)
