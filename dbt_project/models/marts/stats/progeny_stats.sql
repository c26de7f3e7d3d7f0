{#- Analyst mart: progeny statistics of every sire, dam and dam-sire (stat_record_columns) over
    all races in the warehouse, overall and by discipline, distance band (within discipline),
    going band, age band and sex (macros/pmu_bands.sql). Long format: one row per parent and
    breakdown value, e.g. the best sires on heavy going:
      select * from marts.progeny_stats
      where parent_type = 'sire' and breakdown = 'going_band' and breakdown_value = 'heavy'.
    Incremental by race date: the parents with a runner in the window [start_date, end_date) have
    all their rows recomputed from their whole history (delete+insert on the parent), so a day's
    results add to the totals and the table equals a rebuild from scratch. -#}
{{
    config(
        unique_key=['parent_type', 'parent_key'],
        indexes=[
            {'columns': ['parent_type', 'parent_key']},
            {'columns': ['parent_type', 'breakdown', 'breakdown_value']},
            {'columns': ['last_seen_date']},
        ],
    )
}}

{%- set parents = [('sire', 'sire_key'), ('dam', 'dam_key'), ('damsire', 'dam_sire_key')] %}

with window_runners as (
    select
        sire_key,
        dam_key,
        dam_sire_key
    from {{ ref('int_runner_outcome') }}
    where {{ race_date_window('race_date', 'last_seen_date') }}
),

-- noqa: disable=LT02
runs as (
    {%- for parent_type, column in parents %}
    select
        '{{ parent_type }}' as parent_type,
        hist.{{ column }} as parent_key,
        {{ stat_record_inputs('hist') }}
    from {{ ref('int_runner_outcome') }} as hist
    where
        hist.is_starter
        and hist.{{ column }} in (select window_runners.{{ column }} from window_runners)
    {{ "union all" if not loop.last }}
    {%- endfor %}
)
-- noqa: enable=LT02

select
    parent_type,
    parent_key,
    {{ stat_breakdown(['discipline', 'distance_band', 'going_band', 'age_band', 'sex']) }},
    {{ stat_record_columns() }}
from runs
group by
    parent_type,
    parent_key,
    grouping sets ((), (discipline), (distance_band), (going_band), (age_band), (sex))
