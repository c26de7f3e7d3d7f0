{#- The favourite of each race with a result: the starter(s) with the shortest final odds (joint
    favourites all listed), and whether it won. -#}
with starters as (
    select
        race_id,
        race_date,
        num_pmu,
        horse_name,
        final_odds,
        is_winner,
        min(final_odds) over (partition by race_id) as shortest_odds
    from {{ ref('race_participant') }}
    where
        {{ race_date_window() }}
        and not is_non_runner
        and is_winner is not null
        and final_odds is not null
)

select
    race_id,
    race_date,
    num_pmu,
    horse_name,
    final_odds,
    is_winner,
    count(*) over (partition by race_id) > 1 as is_joint_favourite
from starters
where final_odds = shortest_odds
