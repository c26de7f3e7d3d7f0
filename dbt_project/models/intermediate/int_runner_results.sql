{#- Result of each declared runner. The place comes from the programme's `ordreArrivee` (lists
    of lists: dead heats share a place) and, for runners it does not list (it is often cut after
    the first 3-5), from the runner's own `ordreArrivee`. Non-runners and disqualified runners get
    no place. A race "has a result" once any runner is placed; before that is_winner is null. -#}
{{ config(indexes=[{'columns': ['race_date']}]) }}

with runners as (
    select
        race_id,
        race_date,
        num_pmu,
        runner_status,
        incident,
        finish_place_reported
    from {{ ref('stg_pmu__participants') }}
    where {{ race_date_window() }}
),

programme_order as (
    select
        race_id,
        num_pmu,
        finish_place
    from {{ ref('stg_pmu__race_finish_order') }}
    where {{ race_date_window() }}
),

flagged as (
    select
        runners.race_id,
        runners.race_date,
        runners.num_pmu,
        coalesce(runners.runner_status = 'NON_PARTANT' or runners.incident = 'NON_PARTANT', false)
            as is_non_runner,
        coalesce(runners.incident like 'DISQUALIFIE%', false) as is_disqualified,
        programme_order.finish_place as place_from_programme,
        runners.finish_place_reported as place_from_participants
    from runners
    left join programme_order
        on runners.race_id = programme_order.race_id and runners.num_pmu = programme_order.num_pmu
),

placed as (
    select
        *,
        case
            when not is_non_runner and not is_disqualified
                then coalesce(place_from_programme, place_from_participants)
        end as finish_place
    from flagged
)

select
    race_id,
    race_date,
    num_pmu,
    is_non_runner,
    is_disqualified,
    finish_place,
    place_from_programme,
    place_from_participants,
    case
        when bool_or(finish_place is not null) over (partition by race_id) then coalesce(finish_place = 1, false)
    end as is_winner,
    finish_place is not null
    and count(*) over (partition by race_id, finish_place) > 1 as is_dead_heat
from placed
