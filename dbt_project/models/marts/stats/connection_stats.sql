{#- Analyst mart: the record of connections (stat_record_columns) over all races in the
    warehouse, overall and by discipline: jockey x trainer, horse x jockey, trainer x hippodrome,
    jockey x hippodrome. Long format keyed by (connection_type, key_1, key_2, breakdown,
    breakdown_value), e.g. a trainer's record at a course:
      select * from marts.connection_stats
      where connection_type = 'trainer_hippodrome' and key_1 = 'F. NIVARD' and breakdown = 'all'.
    Incremental by race date as progeny_stats: the connections with a runner in the window are
    recomputed from their whole history (delete+insert on the connection). -#}
{{
    config(
        unique_key=['connection_type', 'key_1', 'key_2'],
        indexes=[
            {'columns': ['connection_type', 'key_1', 'key_2']},
            {'columns': ['connection_type', 'key_2']},
            {'columns': ['last_seen_date']},
        ],
    )
}}

{%- set connections = [
    ('jockey_trainer', 'jockey_key', 'trainer_key'),
    ('horse_jockey', 'horse_key', 'jockey_key'),
    ('trainer_hippodrome', 'trainer_key', 'hippodrome_code'),
    ('jockey_hippodrome', 'jockey_key', 'hippodrome_code'),
] %}

with window_runners as (
    select
        horse_key,
        jockey_key,
        trainer_key,
        hippodrome_code
    from {{ ref('int_runner_outcome') }}
    where {{ race_date_window('race_date', 'last_seen_date') }}
),

-- noqa: disable=LT02
runs as (
    {%- for connection_type, first, second in connections %}
    select
        '{{ connection_type }}' as connection_type,
        hist.{{ first }} as key_1,
        hist.{{ second }} as key_2,
        {{ stat_record_inputs('hist') }}
    from {{ ref('int_runner_outcome') }} as hist
    inner join (  -- noqa: ST05
        select distinct
            window_runners.{{ first }},
            window_runners.{{ second }}
        from window_runners
    ) as touched
        on hist.{{ first }} = touched.{{ first }} and hist.{{ second }} = touched.{{ second }}
    where hist.is_starter
    {{ "union all" if not loop.last }}
    {%- endfor %}
)
-- noqa: enable=LT02

select
    connection_type,
    key_1,
    key_2,
    {{ stat_breakdown(['discipline']) }},
    {{ stat_record_columns() }}
from runs
group by connection_type, key_1, key_2, grouping sets ((), (discipline))
