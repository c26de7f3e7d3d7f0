{#- performances-detaillees of the latest body per race: one row per runner of the race and past
    race it ran, from the runner's own line (`itsHim`) in that past race. Units here differ from
    participants: `reductionKilometrique` and `tempsDuPremier` are in 1/100 s. Past race dates are
    epoch ms at Paris midnight (read as UTC they fall on the previous day). -#}
{{ config(indexes=[{'columns': ['race_date']}]) }}

with bodies as (
    {{ pmu_ranked_bodies(source('pmu', 'pmu_performances')) }}
),

runners as (
    select
        bodies.raw_id,
        bodies.race_date,
        bodies.meeting_num,
        bodies.race_num,
        bodies.served_at,
        runner.value as runner
    from bodies
    cross join lateral jsonb_array_elements({{ pmu_json_array("bodies.body -> 'participants'") }}) as runner
    where bodies.snapshot_rank = 1
),

past_races as (
    select
        runners.*,
        past.value as past_race,
        past.ordinality as past_race_index,
        (
            select own.value
            from
                jsonb_array_elements({{ pmu_json_array("past.value -> 'participants'") }})
                with ordinality as own (value, ordinality)
            where own.value ->> 'itsHim' = 'true'
            order by own.ordinality
            limit 1
        ) as own_line
    from runners
    cross join
        lateral jsonb_array_elements({{ pmu_json_array("runners.runner -> 'coursesCourues'") }})
        with ordinality as past (value, ordinality)
)

select
    {{ pmu_race_id('race_date', 'meeting_num', 'race_num') }} as race_id,
    race_date,
    {{ pmu_int("runner ->> 'numPmu'") }} as num_pmu,
    {{ pmu_text("runner ->> 'nomCheval'") }} as horse_name,
    past_race_index::integer as past_race_index,
    raw_id as performances_raw_id,
    served_at as performances_served_at,
    {{ pmu_paris_date("past_race ->> 'date'") }} as past_race_date,
    {{ pmu_text("past_race ->> 'hippodrome'") }} as past_hippodrome,
    {{ pmu_text("past_race ->> 'nomPrix'") }} as past_race_name,
    {{ pmu_text("past_race ->> 'discipline'") }} as past_discipline,
    {{ pmu_numeric("past_race ->> 'allocation'") }} as past_allocation_eur,
    {{ pmu_int("past_race ->> 'distance'") }} as past_distance_m,
    {{ pmu_int("past_race ->> 'nbParticipants'") }} as past_field_size,
    {{ pmu_centiseconds_to_seconds("past_race ->> 'tempsDuPremier'") }} as past_winner_time_s,
    {{ pmu_int("own_line -> 'place' ->> 'place'") }} as place,
    {{ pmu_text("own_line -> 'place' ->> 'statusArrivee'") }} as finish_status,
    {{ pmu_text("own_line ->> 'nomJockey'") }} as jockey_name,
    {{ pmu_hg_to_kg("own_line ->> 'poidsJockey'") }} as weight_kg,
    {{ pmu_int("own_line ->> 'corde'") }} as draw,
    {{ pmu_text("own_line ->> 'oeillere'") }} as blinkers,
    {{ pmu_text("own_line ->> 'distanceAvecPrecedent'") }} as distance_to_previous,
    {{ pmu_centiseconds_to_seconds("own_line ->> 'reductionKilometrique'") }} as reduction_km_s,
    {{ pmu_int("own_line ->> 'distanceParcourue'") }} as distance_covered_m,
    -- a past race date that is a number but not a plausible time (nulled rather than failing the build)
    {{ pmu_epoch_ms_out_of_range("past_race ->> 'date'") }} as has_out_of_range_time
from past_races
