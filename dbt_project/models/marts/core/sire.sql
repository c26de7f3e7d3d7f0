{#- Stallions that appear as a sire in `pedigree`, one row each (key: the name normalised). -#}
{{ config(materialized='view') }}

{{ pmu_pedigree_parent('sire_key', 'sire_name') }}
