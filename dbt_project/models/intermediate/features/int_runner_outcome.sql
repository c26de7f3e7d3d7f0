{#- One row per declared runner with what happened in the race (core race_participant: latest
    snapshot, dead heats, disqualifications): the history that later race days' features are
    computed from. Read only for race dates strictly before the race being featured, so its
    post-race fields never reach that race's own row. Race context from the point-in-time model.
    Also the one per-runner table every statistic aggregates from (marts/stats, perf_by_condition):
    bands (macros/pmu_bands.sql), pedigree keys, prize money won and finishing percentile are
    defined here once. -#}
{{
    config(
        indexes=[
            {'columns': ['race_date']},
            {'columns': ['race_id', 'num_pmu'], 'unique': true},
            {'columns': ['horse_key', 'race_date']},
            {'columns': ['jockey_key', 'race_date']},
            {'columns': ['trainer_key', 'race_date']},
            {'columns': ['jockey_key', 'trainer_key', 'race_date']},
            {'columns': ['sire_key', 'discipline', 'distance_band', 'race_date']},
            {'columns': ['dam_sire_key', 'discipline', 'distance_band', 'race_date']},
            {'columns': ['sire_key', 'going_band', 'race_date']},
            {'columns': ['dam_key', 'race_date']},
            {'columns': ['trainer_key', 'hippodrome_code', 'race_date']},
            {'columns': ['jockey_key', 'hippodrome_code', 'race_date']},
        ],
    )
}}

with runners as (
    select
        race_id,
        race_date,
        num_pmu,
        horse_key,
        jockey_key,
        trainer_key,
        participants_served_at as result_known_at,
        -- a race counts as run once any runner is placed: is_winner is null before that
        is_winner is not null as has_result,
        coalesce(is_non_runner, false) as is_non_runner,
        finish_place,
        coalesce(is_winner, false) as is_winner,
        final_odds,
        nullif(reduction_km_s, 0) as seconds_per_km
    from {{ ref('race_participant') }}
    where {{ race_date_window('race_date') }}
),

per_race as (
    select
        race_id,
        percentile_cont(0.5) within group (order by seconds_per_km) as race_median_seconds_per_km,
        count(*) filter (where has_result) as race_starters
    from runners
    where not is_non_runner
    group by race_id
),

tied as (
    -- runners sharing each place (a dead heat splits the prizes of the places it covers)
    select
        race_id,
        finish_place,
        count(*) as tied_runners
    from runners
    where finish_place is not null and not is_non_runner
    group by race_id, finish_place
)

select
    runners.race_id,
    runners.race_date,
    runners.num_pmu,
    runners.result_known_at,
    runners.horse_key,
    runners.jockey_key,
    runners.trainer_key,
    pit.sire_key,
    pit.dam_key,
    pit.dam_sire_key,
    pit.sex,
    pit.age,
    {{ feat_age_band('pit.age') }} as age_band,
    race.race_start_at,
    race.discipline,
    race.distance_m,
    race.distance_band,
    race.hippodrome_code,
    race.going_penetrometre,
    race.going_label,
    race.going_band,
    race.prize_eur,
    runners.has_result,
    runners.is_non_runner,
    runners.has_result and not runners.is_non_runner as is_starter,
    runners.finish_place,
    runners.is_winner,
    coalesce(runners.finish_place <= 3, false) as is_placed,
    runners.final_odds,
    runners.seconds_per_km,
    runners.seconds_per_km - per_race.race_median_seconds_per_km as seconds_per_km_vs_field,
    per_race.race_starters,
    -- share of the other starters it beat: 1 = won, 0 = last; a starter without a place (fell,
    -- disqualified, not in the published order) beat nobody
    case
        when runners.has_result and not runners.is_non_runner and per_race.race_starters > 1
            then greatest(coalesce((per_race.race_starters - runners.finish_place)::numeric / (per_race.race_starters - 1), 0), 0)
    end::double precision as finish_percentile,
    -- prize money won: the place's allocation, shared out on a dead heat
    case
        when runners.has_result and not runners.is_non_runner
            then coalesce(
                (
                    select
                        round(avg(coalesce((array[
                            race.prize_1st_eur, race.prize_2nd_eur, race.prize_3rd_eur, race.prize_4th_eur, race.prize_5th_eur
                        ])[paid.place], 0)), 2)
                    from generate_series(runners.finish_place, runners.finish_place + tied.tied_runners - 1) as paid (place)
                ),
                0
            )
    end::numeric(14, 2) as earnings_eur
from runners
left join per_race on runners.race_id = per_race.race_id
left join tied on runners.race_id = tied.race_id and runners.finish_place = tied.finish_place
left join {{ ref('int_runner_pit') }} as pit
    on runners.race_id = pit.race_id and runners.num_pmu = pit.num_pmu
left join {{ ref('int_race_pit') }} as race
    on runners.race_id = race.race_id
