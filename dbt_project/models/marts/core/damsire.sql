{#- Stallions that appear as a dam's sire (broodmare sire) in `pedigree`, one row each (key: the
    name normalised), with how many of their daughters have foals in the warehouse. -#}
{{ config(materialized='view') }}

{{ pmu_pedigree_parent('damsire_key', 'dam_sire_name', {
    'dams': "count(distinct " ~ pmu_person_key('dam_name') ~ ")",
}) }}
