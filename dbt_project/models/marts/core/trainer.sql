{#- Trainers, keyed by the name upper-cased with blanks collapsed. -#}
{{
    config(
        unique_key='trainer_key',
        indexes=[{'columns': ['trainer_key'], 'unique': True}, {'columns': ['last_seen_date']}],
    )
}}

{{ pmu_dimension('trainer_key', ['trainer_name', 'training_country']) }}
