{#- The programme's finishing order (`ordreArrivee`), a list of lists: runners sharing an inner list
    dead-heated. Place = 1 + number of runners in the groups before (1, 2, 3, 3, 5), the numbering
    the participants bodies use too. One row per placed runner. -#}
{{ config(indexes=[{'columns': ['race_date']}]) }}

with races as (
    select
        race_id,
        race_date,
        finish_order_json
    from {{ ref('stg_pmu__programme') }}
    where race_id is not null and {{ race_date_window() }}
),

groups as (
    select
        races.race_id,
        races.race_date,
        grp.value as runners,
        jsonb_array_length({{ pmu_json_array('grp.value') }}) as group_size,
        grp.ordinality as group_index
    from races
    cross join
        lateral jsonb_array_elements({{ pmu_json_array('races.finish_order_json') }})
        with ordinality as grp (value, ordinality)
),

ranked_groups as (
    select
        race_id,
        race_date,
        runners,
        group_size,
        (1 + coalesce(sum(group_size) over (
            partition by race_id order by group_index
            rows between unbounded preceding and 1 preceding
        ), 0))::integer as finish_place
    from groups
)

select
    ranked_groups.race_id,
    ranked_groups.race_date,
    {{ pmu_int("runner.value #>> '{}'") }} as num_pmu,
    ranked_groups.finish_place,
    ranked_groups.group_size > 1 as is_dead_heat
from ranked_groups
cross join lateral jsonb_array_elements({{ pmu_json_array('ranked_groups.runners') }}) as runner
