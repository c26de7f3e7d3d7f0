{#- Contract 3 (pmu_core/facts.py): the outcome of every declared runner, for training labels and
    analysts, from the core race_participant (latest snapshot; fills in once the results have
    landed). -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id', 'num_pmu'], 'unique': true}]) }}

select
    race_id,
    race_date,
    num_pmu,
    horse_key,
    is_winner is not null as has_result,
    coalesce(is_non_runner, false) as is_non_runner,
    finish_place,
    -- dead heats share the place, so every tied winner is a winner
    coalesce(is_winner, false) as is_winner,
    coalesce(finish_place <= 3, false) as is_placed,
    final_odds::double precision as final_odds,
    participants_served_at as result_known_at
from {{ ref('race_participant') }}
where {{ race_date_window('race_date') }}
