{#- Incremental window on race date (contract 2, pmu_core/facts.py), half-open [start_date, end_date):
      --vars '{"start_date": "2025-11-05", "end_date": "2025-11-06"}'
    Either bound may be given alone. Without vars an incremental run processes the race dates not
    built yet plus the latest built one again (its bodies may have changed since); a first build
    takes everything. `this_column` is the target's column to find the latest built date (dimensions
    track `last_seen_date`). Raw tables are indexed on race_date, so a window never scans history. -#}
{% macro race_date_window(column='race_date', this_column='race_date') -%}
    {%- set start_date = var('start_date', none) -%}
    {%- set end_date = var('end_date', none) -%}
    {%- if start_date or end_date -%}
        {%- if start_date %}{{ column }} >= {{ pmu_date_literal(start_date) }}{% else %}true{% endif %}
        and {% if end_date %}{{ column }} < {{ pmu_date_literal(end_date) }}{% else %}true{% endif -%}
    {%- elif is_incremental() -%}
        {#- the latest built date as a literal, read when the model runs: with a subquery instead the
            planner guesses a third of the table and may scan all of raw history -#}
        {%- set latest = none -%}
        {%- if execute -%}
            {%- set result = run_query('select max(' ~ this_column ~ ')::text from ' ~ this) -%}
            {%- set latest = result.columns[0].values()[0] -%}
        {%- endif -%}
        {%- if latest -%}
            {{ column }} >= {{ pmu_date_literal(latest) }}
        {%- else -%}
            true
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- A var rendered into SQL: only a well-formed ISO date gets through (no SQL from inputs). -#}
{% macro pmu_date_literal(value) -%}
    {%- set text = value | string | trim -%}
    {%- set digits = text[:4] ~ text[5:7] ~ text[8:] -%}
    {%- if not (text | length == 10 and text[4] == '-' and text[7] == '-' and digits.isdigit()) -%}
        {{ exceptions.raise_compiler_error("start_date/end_date must be YYYY-MM-DD, got " ~ (text | tojson)) }}
    {%- endif -%}
    '{{ text }}'::date
{%- endmacro %}

{#- Raw rows of one endpoint inside the window, each ranked within its natural key
    (race_date, meeting_num, race_num): rank 1 = the latest snapshot, by served_at (when the body
    was true) then raw_id (landing order). -#}
{% macro pmu_ranked_bodies(relation) -%}
    select
        raw.raw_id,
        raw.race_date,
        raw.meeting_num,
        raw.race_num,
        coalesce(raw.served_at, raw.fetched_at) as served_at,
        raw.body,
        row_number() over (
            partition by raw.race_date, raw.meeting_num, raw.race_num
            order by coalesce(raw.served_at, raw.fetched_at) desc, raw.raw_id desc
        ) as snapshot_rank
    from {{ relation }} as raw
    where
        raw.http_status between 200 and 299
        and {{ race_date_window('raw.race_date') }}
{%- endmacro %}
