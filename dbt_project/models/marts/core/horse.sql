{#- Horses: `idCheval` where the bodies carry it, else a stable key from name + birth year + sex
    (2018 bodies). Attributes from the latest appearance. -#}
{{
    config(
        unique_key='horse_key',
        indexes=[{'columns': ['horse_key'], 'unique': True}, {'columns': ['last_seen_date']}],
    )
}}

{{ pmu_dimension('horse_key', [
    'horse_id_pmu', 'horse_name', 'sex', 'birth_year', 'breed', 'coat', 'birth_country',
    'sire_name', 'dam_name', 'dam_sire_name', 'trainer_key', 'owner_key', 'breeder_key',
    'career_starts', 'career_wins', 'earnings_career_eur'
]) }}
