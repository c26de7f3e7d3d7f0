{#- Owners, keyed by the name upper-cased with blanks collapsed. -#}
{{
    config(
        unique_key='owner_key',
        indexes=[{'columns': ['owner_key'], 'unique': True}, {'columns': ['last_seen_date']}],
    )
}}

{{ pmu_dimension('owner_key', ['owner_name']) }}
