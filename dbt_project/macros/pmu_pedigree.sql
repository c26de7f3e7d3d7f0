{#- One row per stallion or mare named in `pedigree` in the role `name_column` (sire_name,
    dam_name, dam_sire_name), keyed like people (name upper-cased, blanks collapsed) as
    int_runner_pit keys them: the spelling of the latest foal seen, foals in the warehouse,
    first and last seen. `extra` columns are aggregates over the foals' pedigree rows. -#}
{% macro pmu_pedigree_parent(key, name_column, extra={}) -%}
with foals as (
    select
        {{ pmu_person_key(name_column) }} as parent_key,
        {{ name_column }} as parent_name,
        horse_key,
        sire_name,
        dam_name,
        dam_sire_name,
        first_seen_date,
        last_seen_date
    from {{ ref('pedigree') }}
    where {{ pmu_person_key(name_column) }} is not null
)

select
    parent_key as {{ key }},
    (array_agg(parent_name order by last_seen_date desc, horse_key desc))[1] as {{ name_column }},
    count(*) as foals,
    {%- for name, expr in extra.items() %}
    {{ expr }} as {{ name }},
    {%- endfor %}
    min(first_seen_date) as first_seen_date,
    max(last_seen_date) as last_seen_date
from foals
group by parent_key
{%- endmacro %}
