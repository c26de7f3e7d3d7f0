{#- Jockeys and drivers (the API's `driver` field for every discipline), keyed by the name upper-cased with blanks collapsed. -#}
{{
    config(
        unique_key='jockey_key',
        indexes=[{'columns': ['jockey_key'], 'unique': True}, {'columns': ['last_seen_date']}],
    )
}}

{{ pmu_dimension('jockey_key', ['jockey_name']) }}
