{#- The race id the API uses too: `YYYY-MM-DD-R{meeting numOfficiel}-C{race numOrdre}`. -#}
{% macro pmu_race_id(race_date, meeting_num, race_num) -%}
    (to_char({{ race_date }}, 'YYYY-MM-DD') || '-R' || ({{ meeting_num }})::text || '-C' || ({{ race_num }})::text)
{%- endmacro %}

{% macro pmu_meeting_id(race_date, meeting_num) -%}
    (to_char({{ race_date }}, 'YYYY-MM-DD') || '-R' || ({{ meeting_num }})::text)
{%- endmacro %}

{#- Horse key: `idCheval` where the body has it; older bodies (2018) lack it, so a stable key
    from name + birth year + sex (birth year = race year - age: ages count from 1 January). -#}
{% macro pmu_horse_key(id_cheval, name, race_date, age, sex) -%}
    coalesce(
        'id:' || nullif(trim({{ id_cheval }}), ''),
        'nk:' || upper(regexp_replace(trim({{ name }}), '\s+', ' ', 'g'))
        || '|' || coalesce((extract(year from {{ race_date }})::integer - {{ age }})::text, '?')
        || '|' || coalesce({{ sex }}, '?')
    )
{%- endmacro %}
