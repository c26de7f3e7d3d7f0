{#- Declared runners, key (race_id, num_pmu): who ran with what, the market, and the result. -#}
{{
    config(
        indexes=[
            {'columns': ['race_date']},
            {'columns': ['race_id', 'num_pmu'], 'unique': True},
            {'columns': ['horse_key']},
        ],
    )
}}

with runners as (
    select *
    from {{ ref('stg_pmu__participants') }}
    where {{ race_date_window() }}
),

results as (
    select *
    from {{ ref('int_runner_results') }}
    where {{ race_date_window() }}
),

odds as (
    select *
    from {{ ref('int_runner_odds') }}
    where {{ race_date_window() }}
)

select
    runners.race_id,
    runners.num_pmu,
    runners.race_date,
    {{ pmu_meeting_id('runners.race_date', 'runners.meeting_num') }} as meeting_id,
    runners.horse_key,
    runners.horse_name,
    runners.age,
    runners.sex,
    runners.jockey_key,
    runners.jockey_name,
    runners.is_jockey_change,
    runners.trainer_key,
    runners.owner_key,
    runners.breeder_key,
    runners.runner_status,
    results.is_non_runner,
    runners.gait,
    runners.weight_kg,
    runners.rider_weight_kg,
    runners.handicap_rating,
    runners.handicap_distance_m,
    runners.draw,
    runners.shoeing,
    runners.blinkers,
    runners.is_debut,
    runners.is_supplementary_entry,
    runners.claiming_price_eur,
    runners.trainer_opinion,
    runners.stable_code,
    runners.form_string,
    runners.career_starts,
    runners.career_wins,
    runners.career_places,
    runners.earnings_career_eur,
    runners.earnings_this_year_eur,
    runners.earnings_last_year_eur,
    odds.morning_odds,
    odds.morning_odds_served_at,
    odds.final_odds,
    odds.latest_odds,
    odds.latest_odds_served_at,
    coalesce(odds.odds_snapshots, 0) as odds_snapshots,
    runners.odds_reference,
    results.finish_place,
    results.is_winner,
    results.is_dead_heat,
    results.is_disqualified,
    runners.incident,
    runners.finish_time_s,
    runners.reduction_km_s,
    runners.distance_to_previous,
    runners.snapshot_served_at as participants_served_at
from runners
left join results on runners.race_id = results.race_id and runners.num_pmu = results.num_pmu
left join odds on runners.race_id = odds.race_id and runners.num_pmu = odds.num_pmu
