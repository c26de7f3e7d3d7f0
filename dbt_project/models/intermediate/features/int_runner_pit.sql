{#- One row per declared runner: the participants snapshot known before the odds cut-off
    (race start minus var odds_cutoff_minutes, default 5). When no snapshot precedes the cut-off,
    the earliest one gives the static fields (horse, connections, career so far) and the market
    columns stay null: odds are only ever read from a body served before the cut-off.
    The post-race columns of the snapshots (finish_place_reported, finish_time_s, reduction_km_s,
    incident, race_comment) are not read here. -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id', 'num_pmu'], 'unique': true}]) }}

with races as (
    select
        race_id,
        race_date,
        meeting_num,
        race_num,
        race_start_at,
        race_start_at - interval '{{ feat_odds_cutoff_minutes() }} minutes' as odds_cutoff_at
    from {{ ref('int_race_pit') }}
    where {{ race_date_window('race_date') }}
),

snapshots as (
    select
        races.odds_cutoff_at,
        snap.*
    from {{ ref('stg_pmu__participant_snapshots') }} as snap
    inner join races on snap.race_id = races.race_id
    where {{ race_date_window('snap.race_date') }}
),

ranked as (
    select
        *,
        snapshot_served_at < odds_cutoff_at as is_pre_cutoff,
        row_number() over (
            partition by race_id, num_pmu
            order by
                (snapshot_served_at < odds_cutoff_at) desc,
                case when snapshot_served_at < odds_cutoff_at then snapshot_served_at end desc,
                snapshot_served_at asc,
                snapshot_raw_id asc
        ) as pick
    from snapshots
)

select
    race_id,
    race_date,
    num_pmu,
    horse_key,
    snapshot_served_at as runner_known_at,
    is_pre_cutoff,
    coalesce(runner_status = 'NON_PARTANT', false) as is_declared_non_runner,
    jockey_key,
    trainer_key,
    {{ pmu_person_key('sire_name') }} as sire_key,
    {{ pmu_person_key('dam_name') }} as dam_key,
    {{ pmu_person_key('dam_sire_name') }} as dam_sire_key,
    sex,
    age,
    form_string as musique,
    career_starts,
    career_wins,
    career_places,
    earnings_career_eur as career_earnings_eur,
    earnings_this_year_eur as year_earnings_eur,
    is_debut,
    draw,
    handicap_distance_m,
    -- mounted trot gives the rider's weight, flat and jumps the weight carried; 0 means none
    nullif(coalesce(rider_weight_kg, weight_kg), 0) as weight_kg,
    handicap_rating,
    coalesce(blinkers, 'SANS_OEILLERES') <> 'SANS_OEILLERES' as has_blinkers,
    coalesce(shoeing, '') like 'DEFERRE%' as is_unshod,
    -- the market: only from a body served before the cut-off (decimal odds, > 1 by definition)
    case when is_pre_cutoff and odds_direct > 1 then odds_direct end as odds_pre_cutoff,
    case when is_pre_cutoff then snapshot_served_at end as odds_known_at
from ranked
where pick = 1
