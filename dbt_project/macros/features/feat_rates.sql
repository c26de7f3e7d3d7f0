{#- Rolling form of one entity (jockey, trainer, pair, sire...) from the outcome history, as a
    lateral join: starts, wins and places in the last N days STRICTLY BEFORE the race day, so that
    neither the race itself nor another race of the same day (whose result is not known at the
    start) is counted. `match` is the join condition on `hist` (the history) and `runner`. -#}
{% macro feat_rolling_form(alias, match, windows) -%}
    left join lateral (
        select
            {%- for days in windows %}
            count(*) filter (where hist.race_date >= runner.race_date - {{ days }}) as starts_{{ days }}d,
            count(*) filter (where hist.race_date >= runner.race_date - {{ days }} and hist.is_winner)
                as wins_{{ days }}d,
            count(*) filter (where hist.race_date >= runner.race_date - {{ days }} and hist.is_placed)
                as places_{{ days }}d{{ "," if not loop.last }}
            {%- endfor %}
        from {{ ref('int_runner_outcome') }} as hist
        where
            {{ match }}
            and hist.is_starter
            and hist.race_date < runner.race_date
            and hist.race_date >= runner.race_date - {{ windows | max }}
    ) as {{ alias }} on true
{%- endmacro %}

{#- The f_ columns of one entity's rolling form: count, win rate, place rate per window. -#}
{% macro feat_form_columns(alias, prefix, windows) -%}
    {%- for days in windows %}
    {{ alias }}.starts_{{ days }}d::double precision as f_{{ prefix }}_starts_{{ days }}d,
    {{ feat_rate(alias ~ '.wins_' ~ days ~ 'd', alias ~ '.starts_' ~ days ~ 'd') }}::double precision
        as f_{{ prefix }}_win_rate_{{ days }}d,
    {{ feat_rate(alias ~ '.places_' ~ days ~ 'd', alias ~ '.starts_' ~ days ~ 'd') }}::double precision
        as f_{{ prefix }}_place_rate_{{ days }}d{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The record to date of one entity (a sire in the race's discipline, a horse with this jockey,
    a trainer at this course...): starts, wins and places over ALL race days strictly before the
    race day, the point-in-time version of the marts/stats records. -#}
{% macro feat_record_to_date(alias, match) -%}
    left join lateral (
        select
            count(*) as starts,
            count(*) filter (where hist.is_winner) as wins,
            count(*) filter (where hist.is_placed) as places
        from {{ ref('int_runner_outcome') }} as hist
        where
            {{ match }}
            and hist.is_starter
            and hist.race_date < runner.race_date
    ) as {{ alias }} on true
{%- endmacro %}

{#- The f_ columns of a record to date: starts, and win and place rates shrunk towards what a
    runner without any edge gets in this race's field (stat_shrunk_rate; `kind` picks k). -#}
{% macro feat_shrunk_columns(alias, prefix, kind) -%}
    {{ alias }}.starts::double precision as f_{{ prefix }}_starts,
    {{ stat_shrunk_rate(alias ~ '.wins', alias ~ '.starts', '1.0 / nullif(field.field_size, 0)', kind) }}
        as f_{{ prefix }}_win_rate_shrunk,
    {{ stat_shrunk_rate(alias ~ '.places', alias ~ '.starts', 'least(3, field.field_size)::numeric / nullif(field.field_size, 0)', kind) }}
        as f_{{ prefix }}_place_rate_shrunk
{%- endmacro %}
