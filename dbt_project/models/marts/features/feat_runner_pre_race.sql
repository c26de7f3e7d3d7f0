{#- Contract 3 (pmu_core/facts.py): one row per declared runner per race with everything known
    BEFORE the race's start. Sources, all point in time:
      - race context and runner facts: the snapshots picked by int_race_pit / int_runner_pit
        (the last ones known before the start / odds cut-off);
      - history: int_runner_outcome rows of race dates strictly before this race's date;
      - past performances: int_past_form, the races listed by this race's own
        performances-detaillees body, run on days before the race;
      - market: odds of the last participants snapshot known before the cut-off, else null.
    Incremental by race date (delete+insert), vars start_date / end_date as the core. -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id', 'num_pmu'], 'unique': true}]) }}

{%- set short_long = [90, 365] -%}

with race as (
    select * from {{ ref('int_race_pit') }}
    where {{ race_date_window('race_date') }}
),

runner_snapshot as (
    select * from {{ ref('int_runner_pit') }}
    where {{ race_date_window('race_date') }}
),

past_form as (
    select * from {{ ref('int_past_form') }}
    where {{ race_date_window('race_date') }}
),

field as (
    -- the field as declared before the start (declared non-runners left out)
    select
        race_id,
        count(*) filter (where not is_declared_non_runner) as field_size,
        count(*) as declared_in_snapshot,
        avg(career_earnings_eur) filter (where not is_declared_non_runner) as field_avg_earnings_eur,
        min(handicap_distance_m) filter (where not is_declared_non_runner) as min_handicap_distance_m,
        avg(weight_kg) filter (where not is_declared_non_runner) as field_avg_weight_kg,
        sum(1 / odds_pre_cutoff) filter (where not is_declared_non_runner) as sum_inverse_odds,
        -- normalising is only meaningful when the whole field is priced
        bool_and(odds_pre_cutoff is not null) filter (where not is_declared_non_runner) as is_field_priced
    from runner_snapshot
    group by race_id
),

runner as (
    select
        runner_snapshot.*,
        race.race_start_at,
        race.discipline,
        race.distance_m,
        race.distance_band,
        race.hippodrome_code,
        race.going_band,
        race.going_penetrometre
    from runner_snapshot
    inner join race on runner_snapshot.race_id = race.race_id
),

featured as (
    select
        runner.race_id,
        runner.race_date,
        race.race_start_at,
        runner.num_pmu,
        runner.horse_key,
        race.discipline,
        race.distance_band,
        race.hippodrome_code,
        runner.jockey_key,
        runner.trainer_key,
        runner.is_declared_non_runner,
        runner.is_pre_cutoff as is_pre_race_snapshot,

        -- race context
        race.distance_m::double precision as f_distance_m,
        race.prize_eur::double precision as f_prize_eur,
        ln(1 + race.prize_eur)::double precision as f_log_prize,
        race.going_penetrometre::double precision as f_going_penetrometre,
        field.field_size::double precision as f_field_size,
        (race.discipline = 'PLAT')::int::double precision as f_is_flat,
        (race.discipline = 'ATTELE')::int::double precision as f_is_trot_harness,
        (race.discipline = 'MONTE')::int::double precision as f_is_trot_mounted,
        (race.discipline in ('HAIE', 'STEEPLECHASE', 'CROSS'))::int::double precision as f_is_jump,
        runner.draw::double precision as f_draw,
        (runner.draw::numeric / nullif(field.field_size, 0))::double precision as f_draw_relative,
        (runner.handicap_distance_m - field.min_handicap_distance_m)::double precision as f_handicap_distance_extra_m,
        runner.weight_kg::double precision as f_weight_kg,
        (runner.weight_kg - field.field_avg_weight_kg)::double precision as f_weight_vs_field_kg,
        runner.handicap_rating::double precision as f_handicap_rating,
        field.field_avg_earnings_eur::double precision as f_field_avg_earnings_eur,
        ln((1 + runner.career_earnings_eur) / (1 + field.field_avg_earnings_eur))::double precision
            as f_log_earnings_vs_field,

        -- the horse: facts of the snapshot
        runner.age::double precision as f_age,
        runner.is_debut::int::double precision as f_is_debut,
        runner.has_blinkers::int::double precision as f_has_blinkers,
        runner.is_unshod::int::double precision as f_is_unshod,
        runner.career_starts::double precision as f_career_starts,
        {{ feat_rate('runner.career_wins', 'runner.career_starts') }}::double precision as f_career_win_rate,
        {{ feat_rate('runner.career_places', 'runner.career_starts') }}::double precision as f_career_place_rate,
        (runner.career_earnings_eur / nullif(runner.career_starts, 0))::double precision
            as f_earnings_per_start_eur,
        runner.year_earnings_eur::double precision as f_year_earnings_eur,

        -- the horse: musique (newest first)
        musique.runs::double precision as f_musique_runs,
        musique.place_1::double precision as f_musique_place_1,
        musique.place_2::double precision as f_musique_place_2,
        musique.place_3::double precision as f_musique_place_3,
        musique.avg_place_5::double precision as f_musique_avg_place_5,
        musique.win_rate_5::double precision as f_musique_win_rate_5,
        musique.top3_rate_5::double precision as f_musique_top3_rate_5,
        musique.dnf_rate_5::double precision as f_musique_dnf_rate_5,

        -- the horse: its earlier races in the warehouse and in this race's past performances
        (runner.race_date - greatest(last_run.race_date, past_form.last_run_date))::double precision
            as f_days_since_last_run,
        horse.starts_90d::double precision as f_runs_90d,
        horse.starts_365d::double precision as f_runs_365d,
        {{ feat_rate('horse.wins_365d', 'horse.starts_365d') }}::double precision as f_horse_win_rate_365d,
        {{ feat_rate('horse.places_365d', 'horse.starts_365d') }}::double precision as f_horse_place_rate_365d,
        last_run.finish_place::double precision as f_last_finish_place,
        last_run.seconds_per_km_vs_field::double precision as f_speed_last_vs_field,
        speed.best_vs_field::double precision as f_speed_best_vs_field_365d,
        speed.best_seconds_per_km::double precision as f_speed_best_seconds_per_km_365d,
        (race.distance_m - last_run.distance_m)::double precision as f_distance_change_m,
        case
            when last_run.race_date is not null
                then (race.hippodrome_code is distinct from last_run.hippodrome_code)::int
            else 0
        end::double precision as f_hippodrome_changed,
        (race.going_penetrometre - last_run.going_penetrometre)::double precision as f_going_change,
        past_form.runs::double precision as f_pp_runs,
        past_form.last_place::double precision as f_pp_last_place,
        past_form.avg_place::double precision as f_pp_avg_place,
        past_form.win_rate::double precision as f_pp_win_rate,
        past_form.top3_rate::double precision as f_pp_top3_rate,
        past_form.best_seconds_per_km::double precision as f_pp_best_seconds_per_km,
        (race.distance_m - past_form.last_distance_m)::double precision as f_pp_distance_change_m,
        ln((1 + race.prize_eur) / (1 + past_form.last_allocation_eur))::double precision as f_pp_class_change,

        -- connections
        {{ feat_form_columns('jockey', 'jockey', short_long) }},
        {{ feat_form_columns('trainer', 'trainer', short_long) }},
        {{ feat_form_columns('pair', 'pair', [365]) }},
        {{ feat_form_columns('sire', 'sire', [730]) }},
        {{ feat_form_columns('dam_sire', 'dam_sire', [730]) }},

        -- records to date (every earlier race day), rates shrunk for small samples
        {{ feat_shrunk_columns('sire_disc', 'sire_disc', 'progeny') }},
        {{ feat_shrunk_columns('sire_going', 'sire_going', 'progeny') }},
        {{ feat_shrunk_columns('dam_all', 'dam', 'progeny') }},
        {{ feat_shrunk_columns('dam_sire_disc', 'dam_sire_disc', 'progeny') }},
        {{ feat_shrunk_columns('horse_jockey', 'horse_jockey', 'connection') }},
        {{ feat_shrunk_columns('jockey_trainer', 'jockey_trainer', 'connection') }},
        {{ feat_shrunk_columns('trainer_hippodrome', 'trainer_hippodrome', 'connection') }},
        {{ feat_shrunk_columns('jockey_hippodrome', 'jockey_hippodrome', 'connection') }},

        -- market
        runner.odds_pre_cutoff::double precision as mkt_odds,
        case
            when not runner.is_declared_non_runner and field.is_field_priced
                then ((1 / runner.odds_pre_cutoff) / field.sum_inverse_odds)::double precision
        end as mkt_implied_prob,
        case
            when not runner.is_declared_non_runner and runner.odds_pre_cutoff is not null
                then rank() over (
                    partition by runner.race_id, (not runner.is_declared_non_runner and runner.odds_pre_cutoff is not null)
                    order by runner.odds_pre_cutoff
                )::int
        end as mkt_odds_rank,
        runner.odds_known_at as mkt_served_at
    from runner
    inner join race on runner.race_id = race.race_id
    inner join field on runner.race_id = field.race_id
    left join past_form on runner.race_id = past_form.race_id and runner.num_pmu = past_form.num_pmu
    left join lateral (  -- noqa: ST05
        select
            count(*) as runs,
            max(run.place_value) filter (where run.ord = 1) as place_1,
            max(run.place_value) filter (where run.ord = 2) as place_2,
            max(run.place_value) filter (where run.ord = 3) as place_3,
            avg(run.place_value) filter (where run.ord <= 5) as avg_place_5,
            avg(run.is_win::int) filter (where run.ord <= 5) as win_rate_5,
            avg(run.is_top3::int) filter (where run.ord <= 5) as top3_rate_5,
            avg(run.is_dnf::int) filter (where run.ord <= 5) as dnf_rate_5
        from ({{ feat_musique_runs('runner.musique') }}) as run  -- noqa: ST05
    ) as musique on runner.musique is not null
    left join lateral (
        select
            hist.race_date,
            hist.finish_place,
            hist.seconds_per_km_vs_field,
            hist.distance_m,
            hist.hippodrome_code,
            hist.going_penetrometre
        from {{ ref('int_runner_outcome') }} as hist
        where
            hist.horse_key = runner.horse_key
            and hist.is_starter
            and hist.race_date < runner.race_date
        order by hist.race_date desc, hist.race_start_at desc
        limit 1
    ) as last_run on true
    left join lateral (
        select
            min(hist.seconds_per_km_vs_field) as best_vs_field,
            min(hist.seconds_per_km) as best_seconds_per_km
        from {{ ref('int_runner_outcome') }} as hist
        where
            hist.horse_key = runner.horse_key
            and hist.is_starter
            and hist.discipline = runner.discipline
            and hist.race_date < runner.race_date
            and hist.race_date >= runner.race_date - 365
    ) as speed on true
    {{ feat_rolling_form('horse', 'hist.horse_key = runner.horse_key', short_long) }}
    {{ feat_rolling_form('jockey', 'hist.jockey_key = runner.jockey_key', short_long) }}
    {{ feat_rolling_form('trainer', 'hist.trainer_key = runner.trainer_key', short_long) }}
    {{ feat_rolling_form('pair', 'hist.jockey_key = runner.jockey_key and hist.trainer_key = runner.trainer_key', [365]) }}
    {{ feat_rolling_form('sire', 'hist.sire_key = runner.sire_key and hist.discipline = runner.discipline and hist.distance_band = runner.distance_band', [730]) }}
    {{ feat_rolling_form('dam_sire', 'hist.dam_sire_key = runner.dam_sire_key and hist.discipline = runner.discipline and hist.distance_band = runner.distance_band', [730]) }}
    {{ feat_record_to_date('sire_disc', 'hist.sire_key = runner.sire_key and hist.discipline = runner.discipline') }}
    {{ feat_record_to_date('sire_going', 'hist.sire_key = runner.sire_key and hist.going_band = runner.going_band') }}
    {{ feat_record_to_date('dam_all', 'hist.dam_key = runner.dam_key') }}
    {{ feat_record_to_date('dam_sire_disc', 'hist.dam_sire_key = runner.dam_sire_key and hist.discipline = runner.discipline') }}
    {{ feat_record_to_date('horse_jockey', 'hist.horse_key = runner.horse_key and hist.jockey_key = runner.jockey_key') }}
    {{ feat_record_to_date('jockey_trainer', 'hist.jockey_key = runner.jockey_key and hist.trainer_key = runner.trainer_key') }}
    {{ feat_record_to_date('trainer_hippodrome', 'hist.trainer_key = runner.trainer_key and hist.hippodrome_code = runner.hippodrome_code') }}
    {{ feat_record_to_date('jockey_hippodrome', 'hist.jockey_key = runner.jockey_key and hist.hippodrome_code = runner.hippodrome_code') }}
)

select * from featured
