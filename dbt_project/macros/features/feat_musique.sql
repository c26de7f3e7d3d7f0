{#- `musique`: the horse's recent places, newest first, e.g. '5m4a3a(24)0aDa'. Each run is a place
    character then a lowercase discipline letter: 1-9 = place, 0 = unplaced beyond 9, a capital
    letter = did not finish (D disqualified, A stopped, T fell, R/J/Q/...); '(24)' marks a year.
    Returns one row per run (ord 1 = most recent) for a lateral join. -#}
{% macro feat_musique_runs(musique_expr) -%}
    select
        runs.ord::int as ord,
        runs.m[1] as place_char,
        runs.m[2] as discipline_char,
        case
            when runs.m[1] between '1' and '9' then runs.m[1]::int
            else 10  -- unplaced (0) and did-not-finish letters rank behind the 9th
        end as place_value,
        runs.m[1] = '1' as is_win,
        runs.m[1] between '1' and '3' as is_top3,
        runs.m[1] !~ '[0-9]' as is_dnf
    from regexp_matches(
        regexp_replace(coalesce({{ musique_expr }}, ''), '\(\d+\)|In[ée]dit', '', 'g'),
        '([0-9A-Z])([a-z])', 'g'
    ) with ordinality as runs (m, ord)
{%- endmacro %}
