{#- Conversions of PMU JSON values. Inputs are SQL text expressions (e.g. `body ->> 'x'`); a value
    that does not parse becomes null rather than failing the whole day's build. -#}

{#- Epoch milliseconds within [1900-01-01, 2200-01-01): what a PMU time can be. Outside it (a
    hostile `1e20`) to_timestamp would fail the whole build ("timestamp out of range"); the
    conversions below give null instead, and pmu_epoch_ms_out_of_range flags the value. -#}
{% macro pmu_epoch_ms_in_range(expr) -%}
    ({{ pmu_numeric(expr) }} >= -2208988800000 and {{ pmu_numeric(expr) }} < 7258118400000)
{%- endmacro %}

{#- True when a value is a number but not a plausible epoch-ms time (false when absent). -#}
{% macro pmu_epoch_ms_out_of_range(expr) -%}
    coalesce(not {{ pmu_epoch_ms_in_range(expr) }}, false)
{%- endmacro %}

{#- Epoch milliseconds -> timestamptz (the instant; display follows the session time zone). -#}
{% macro pmu_epoch_ms_to_timestamptz(expr) -%}
    (case when {{ pmu_epoch_ms_in_range(expr) }} then to_timestamp({{ pmu_numeric(expr) }} / 1000.0) end)
{%- endmacro %}

{#- Epoch milliseconds -> the calendar day in Europe/Paris. Never from `timezoneOffset`: it is
    wrong on DST change days (26/10/2025 carries +1h while midnight was +2h). -#}
{% macro pmu_paris_date(expr) -%}
    ({{ pmu_epoch_ms_to_timestamptz(expr) }} at time zone 'Europe/Paris')::date
{%- endmacro %}

{#- Number from JSON text: accepts `83`, `16.9` and French decimal commas (`4,2`). -#}
{% macro pmu_numeric(expr) -%}
    (case
        when trim({{ expr }}) ~ '^[+-]?[0-9]+([.,][0-9]+)?$'
            then replace(trim({{ expr }}), ',', '.')::numeric
    end)
{%- endmacro %}

{#- Integer from JSON text: `2`, and `2.0` (a number served as a float) too. -#}
{% macro pmu_int(expr) -%}
    (case when trim({{ expr }}) ~ '^[+-]?[0-9]{1,9}([.]0+)?$' then trim({{ expr }})::numeric::integer end)
{%- endmacro %}

{% macro pmu_bool(expr) -%}
    (case lower(trim({{ expr }})) when 'true' then true when 'false' then false end)
{%- endmacro %}

{#- Horse earnings and every dividend are in cents (`dividendePourUnEuro` = cents per 1 EUR). -#}
{% macro pmu_cents_to_euros(expr) -%}
    round({{ pmu_numeric(expr) }} / 100.0, 2)
{%- endmacro %}

{#- Participants give `reductionKilometrique`, `tempsObtenu`, `dureeCourse` in milliseconds. -#}
{% macro pmu_ms_to_seconds(expr) -%}
    round({{ pmu_numeric(expr) }} / 1000.0, 3)
{%- endmacro %}

{#- Performances-detaillees give `reductionKilometrique` and `tempsDuPremier` in 1/100 s. -#}
{% macro pmu_centiseconds_to_seconds(expr) -%}
    round({{ pmu_numeric(expr) }} / 100.0, 2)
{%- endmacro %}

{#- Weights are in hectograms (570 = 57.0 kg). -#}
{% macro pmu_hg_to_kg(expr) -%}
    round({{ pmu_numeric(expr) }} / 10.0, 1)
{%- endmacro %}

{#- A JSON array, or an empty one when the key is missing/null/not an array (old schemas). -#}
{% macro pmu_json_array(expr) -%}
    (case when jsonb_typeof({{ expr }}) = 'array' then {{ expr }} else '[]'::jsonb end)
{%- endmacro %}

{#- Text with surrounding blanks removed and empty strings as null. -#}
{% macro pmu_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- Key of a person (jockey/driver, trainer, owner, breeder): the name upper-cased with blanks
    collapsed, so that spacing and case variants of one spelling meet. -#}
{% macro pmu_person_key(expr) -%}
    nullif(upper(regexp_replace(trim({{ expr }}), '\s+', ' ', 'g')), '')
{%- endmacro %}
