{#- Layers land in their own schemas (staging, intermediate, marts) as named, not prefixed
    with the target schema: analysts query marts.race, not marts_marts.race. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
