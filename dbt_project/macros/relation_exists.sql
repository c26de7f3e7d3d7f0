{#- Whether a source's table exists yet (modeling.* is created by ml/schema.sql, not by dbt):
    models reading it build empty, with the same columns, until it does. -#}
{% macro source_exists(source_name, table_name) %}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- set found = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) -%}
    {{ return(found is not none) }}
{% endmacro %}
