{#- Pedigree of each horse: sire, dam and dam's sire (names: the API gives no ids for them). -#}
{{
    config(
        unique_key='horse_key',
        indexes=[{'columns': ['horse_key'], 'unique': True}, {'columns': ['last_seen_date']}],
    )
}}

{{ pmu_dimension('horse_key', ['sire_name', 'dam_name', 'dam_sire_name']) }}
