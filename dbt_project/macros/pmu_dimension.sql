{#- An incremental dimension keyed by `key`, from the runners of the window
    (stg_pmu__participants): attributes from the key's latest appearance, first/last seen dates.
    Rows already built for keys seen again compete with the window's (the later appearance wins,
    dates widen), so rebuilding an old day neither rescans history nor overwrites newer data, and
    rerunning leaves the table identical. -#}
{% macro pmu_dimension(key, attributes) -%}
with appearances as (
    select
        {{ key }} as dim_key,
        race_date,
        race_id,
        {{ attributes | join(',\n        ') }}
    from {{ ref('stg_pmu__participants') }}
    where {{ key }} is not null and {{ race_date_window('race_date', 'last_seen_date') }}
),

seen as (
    select
        dim_key,
        min(race_date) as first_seen_date,
        max(race_date) as last_seen_date
    from appearances
    group by dim_key
),

latest as (
    select distinct on (dim_key)
        dim_key,
        race_id as latest_race_id,
        {{ attributes | join(',\n        ') }}
    from appearances
    order by dim_key, race_date desc, race_id desc
),

candidates as (
    select
        latest.dim_key,
        latest.latest_race_id,
        {% for attribute in attributes %}latest.{{ attribute }},
        {% endfor -%}
        seen.first_seen_date,
        seen.last_seen_date,
        1 as priority
    from latest
    inner join seen on latest.dim_key = seen.dim_key
    {%- if is_incremental() %}
    union all
    select
        built.{{ key }},
        built.latest_race_id,
        {% for attribute in attributes %}built.{{ attribute }},
        {% endfor -%}
        built.first_seen_date,
        built.last_seen_date,
        2 as priority
    from {{ this }} as built
    where built.{{ key }} in (select seen.dim_key from seen)
    {%- endif %}
)

select distinct on (dim_key)
    dim_key as {{ key }},
    {{ attributes | join(',\n    ') }},
    latest_race_id,
    min(first_seen_date) over (partition by dim_key) as first_seen_date,
    max(last_seen_date) over (partition by dim_key) as last_seen_date
from candidates
order by dim_key, last_seen_date desc, latest_race_id desc, priority
{%- endmacro %}
