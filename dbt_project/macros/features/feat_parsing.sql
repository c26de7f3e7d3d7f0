{#- Helpers of the feature marts. Units, keys and windows reuse the core macros (pmu_*.sql). -#}

{#- When a body was true: the HTTP Date header, else our own fetch time. -#}
{% macro feat_known_at(alias) -%}
    coalesce({{ alias }}.served_at, {{ alias }}.fetched_at)
{%- endmacro %}

{#- Minutes before the start after which no odds snapshot is used (var odds_cutoff_minutes). -#}
{% macro feat_odds_cutoff_minutes() -%}
    {%- set minutes = var('odds_cutoff_minutes', 5) | string | trim -%}
    {%- if not modules.re.match('^[0-9]{1,4}$', minutes) -%}
        {{ exceptions.raise_compiler_error("odds_cutoff_minutes must be a whole number of minutes, got " ~ (minutes | tojson)) }}
    {%- endif -%}
    {{ return(minutes | int) }}
{%- endmacro %}

{#- Win/place rate over a count, null when there is no sample (a model reads the count too). -#}
{% macro feat_rate(numerator, denominator) -%}
    ({{ numerator }}::numeric / nullif({{ denominator }}, 0))
{%- endmacro %}
