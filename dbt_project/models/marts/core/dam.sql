{#- Mares that appear as a dam in `pedigree`, one row each (key: the name normalised), with her
    own sire as her foals' pedigrees give it. -#}
{{ config(materialized='view') }}

{{ pmu_pedigree_parent('dam_key', 'dam_name', {
    'dam_sire_name': "(array_agg(dam_sire_name order by last_seen_date desc, horse_key desc) filter (where dam_sire_name is not null))[1]",
}) }}
