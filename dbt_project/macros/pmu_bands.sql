{#- The bands every statistic and feature groups by, defined once: distance (per discipline
    family), going and age. Stats marts, the point-in-time features and perf_by_condition all call
    these macros, so a cut point changes in one place. -#}

{#- Distance band within a discipline family (flat, trot and jump distances differ so much that
    one set of cut points would put every jump race in "long"). -#}
{% macro feat_distance_band(discipline, distance_m) -%}
    (case
        when {{ distance_m }} is null then null
        when {{ discipline }} = 'PLAT' then
            case
                when {{ distance_m }} < 1300 then 'sprint'
                when {{ distance_m }} < 1900 then 'mile'
                when {{ distance_m }} < 2500 then 'middle'
                else 'long'
            end
        when {{ discipline }} in ('ATTELE', 'MONTE') then
            case
                when {{ distance_m }} < 2200 then 'short'
                when {{ distance_m }} < 2800 then 'middle'
                else 'long'
            end
        else
            case
                when {{ distance_m }} < 3600 then 'short'
                when {{ distance_m }} < 4300 then 'middle'
                else 'long'
            end
    end)
{%- endmacro %}

{#- Going band from the programme's penetrometer label (`intitule`). Turf labels follow the French
    scale Sec < Léger < Bon léger < Bon < Bon souple < Souple < Très souple < Collant < Lourd <
    Très lourd; all-weather tracks (PSF ...) are a band of their own, as is a race without a
    measure. The label, not the reading: the reading's scale differs between turf and trot tracks. -#}
{% macro feat_going_band(going_label) -%}
    (case
        when nullif(trim({{ going_label }}), '') is null then 'unmeasured'
        when upper(trim({{ going_label }})) like 'PSF%' then 'all_weather'
        when lower(trim({{ going_label }})) in ('sec', 'léger', 'leger', 'bon léger', 'bon leger', 'très léger')
            then 'firm'
        when lower(trim({{ going_label }})) in ('bon', 'bon souple') then 'good'
        when lower(trim({{ going_label }})) in ('souple', 'très souple', 'tres souple', 'collant') then 'soft'
        when lower(trim({{ going_label }})) in ('lourd', 'très lourd', 'tres lourd') then 'heavy'
        else 'other'
    end)
{%- endmacro %}

{#- Age band (ages count from 1 January): the young horses' classes, then the older ones. -#}
{% macro feat_age_band(age) -%}
    (case
        when {{ age }} is null then null
        when {{ age }} <= 2 then '2yo'
        when {{ age }} = 3 then '3yo'
        when {{ age }} = 4 then '4yo'
        when {{ age }} <= 6 then '5-6yo'
        else '7yo+'
    end)
{%- endmacro %}
