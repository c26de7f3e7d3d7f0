{#- Breeders, keyed by the name upper-cased with blanks collapsed. -#}
{{
    config(
        unique_key='breeder_key',
        indexes=[{'columns': ['breeder_key'], 'unique': True}, {'columns': ['last_seen_date']}],
    )
}}

{{ pmu_dimension('breeder_key', ['breeder_name']) }}
