{#- The statistics of the analyst marts (marts/stats) and of their point-in-time versions, each
    defined once. Every one aggregates starters of int_runner_outcome (the per-runner result table:
    non-runners and races without a result are not starts). -#}

{#- The record of a group of starts: runners and winners count horses, starts and wins count runs
    (a dead heat for first is a win for every tied horse); the median finishing percentile is the
    typical share of the field beaten (1 = won, 0 = last). -#}
{% macro stat_record_columns() -%}
    count(distinct horse_key) as runners,
    count(*) as starts,
    count(distinct horse_key) filter (where is_winner) as winners,
    count(*) filter (where is_winner) as wins,
    count(*) filter (where is_placed) as places,
    round(avg(is_winner::int), 4) as win_rate,
    round(avg(is_placed::int), 4) as place_rate,
    coalesce(sum(earnings_eur), 0) as earnings_eur,
    round(avg(coalesce(earnings_eur, 0)), 2) as earnings_per_start_eur,
    round((percentile_cont(0.5) within group (order by finish_percentile))::numeric, 4) as median_finish_percentile,
    min(race_date) as first_seen_date,
    max(race_date) as last_seen_date
{%- endmacro %}

{#- Pseudo-starts k of the shrinkage towards the population rate (stat_shrunk_rate), per kind of
    entity: vars stat_shrinkage_k_progeny (default 100) and stat_shrinkage_k_connection (default
    30). Chosen by the beta-binomial method of moments on the real history: k = p(1 - p) / tau^2 - 1,
    tau^2 being the variance of the entities' true win rates (observed variance less the binomial
    noise p(1 - p)/starts). Sires and dam-sires differ little from one another (k ~ 120), riders and
    trainers at a course or together much more (k ~ 20-50). -#}
{% macro stat_shrinkage_k(kind) -%}
    {%- set defaults = {'progeny': 100, 'connection': 30} -%}
    {%- if kind not in defaults -%}
        {{ exceptions.raise_compiler_error("stat_shrinkage_k: kind must be progeny or connection, got " ~ (kind | tojson)) }}
    {%- endif -%}
    {%- set k = var('stat_shrinkage_k_' ~ kind, defaults[kind]) | string | trim -%}
    {%- if not (k.isdigit() and k | length <= 4) -%}
        {{ exceptions.raise_compiler_error("stat_shrinkage_k_" ~ kind ~ " must be a whole number of pseudo-starts, got " ~ (k | tojson)) }}
    {%- endif -%}
    {{ return(k | int) }}
{%- endmacro %}

{#- A rate shrunk towards the population rate for small samples:
        (events + k * prior) / (starts + k)
    the posterior mean of a Beta(k * prior, k * (1 - prior)) prior after `starts` trials: with no
    start it is the prior, with many it is the raw rate, and k is the number of starts at which the
    two weigh the same. `prior` is the rate of a runner without any edge in the race being
    featured (1 / field size for a win, min(3, field) / field size for a place), so that an
    unknown sire or pair reads as average for that field. -#}
{% macro stat_shrunk_rate(events, starts, prior, kind) -%}
    ((coalesce({{ events }}, 0) + {{ stat_shrinkage_k(kind) }} * ({{ prior }}))::double precision
        / (coalesce({{ starts }}, 0) + {{ stat_shrinkage_k(kind) }}))
{%- endmacro %}

{#- The values the stats marts break down by, from one int_runner_outcome row: a missing value
    is 'unknown' (so that it is a group of its own, not the grand total), the distance band is
    read within its discipline ('ATTELE middle'). -#}
{% macro stat_breakdown_values(alias) -%}
    coalesce({{ alias }}.discipline, 'unknown') as discipline,
    coalesce({{ alias }}.discipline, 'unknown') || ' ' || coalesce({{ alias }}.distance_band, 'unknown') as distance_band,
    coalesce({{ alias }}.going_band, 'unknown') as going_band,
    coalesce({{ alias }}.age_band, 'unknown') as age_band,
    coalesce({{ alias }}.sex, 'unknown') as sex
{%- endmacro %}

{#- What stat_record_columns and the breakdowns read from one int_runner_outcome row, for the
    unions of the stats marts (one select per kind of key). -#}
{% macro stat_record_inputs(alias) -%}
    {{ stat_breakdown_values(alias) }},
    {{ alias }}.horse_key,
    {{ alias }}.race_date,
    {{ alias }}.is_winner,
    {{ alias }}.is_placed,
    {{ alias }}.earnings_eur,
    {{ alias }}.finish_percentile
{%- endmacro %}

{#- `breakdown` (which grouping set a row belongs to, 'all' for the grand total) and
    `breakdown_value`, for a `group by ... grouping sets ((), (a), (b), ...)` over `columns`. -#}
{% macro stat_breakdown(columns) -%}
    case
        {%- for column in columns %}
        when grouping({{ column }}) = 0 then '{{ column }}'
        {%- endfor %}
        else 'all'
    end as breakdown,
    coalesce({{ columns | join(', ') }}, 'all') as breakdown_value
{%- endmacro %}
