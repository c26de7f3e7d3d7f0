{#- A pedigree-parent dimension and `pedigree` name the same animals: every parent named in
    pedigree's `name_column` (normalised as the dimension keys it) has a row, and every row of the
    dimension is named by at least one pedigree. -#}
{% test pedigree_parents_match(model, column_name, name_column) %}
with named as (
    select distinct {{ pmu_person_key(name_column) }} as parent_key
    from {{ ref('pedigree') }}
    where {{ pmu_person_key(name_column) }} is not null
)

select coalesce(named.parent_key, dimension.{{ column_name }}) as unmatched_key
from named
full outer join {{ model }} as dimension on named.parent_key = dimension.{{ column_name }}
where named.parent_key is null or dimension.{{ column_name }} is null
{% endtest %}
