{#- One row per race of every programme body landed for a day (each a snapshot of the day at the
    time it was served), with its meeting's attributes (a meeting without races keeps one row with
    null race columns). The only model that reads raw programme bodies: stg_pmu__programme keeps
    the latest snapshot (is_latest_snapshot), the feature marts pick the last one known before a
    race's start. Nested arrays needed later (bets offered, finishing order, incidents) are carried
    as jsonb and unpacked by the stg_pmu__race_* models. -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id', 'programme_raw_id']}]) }}

with bodies as (
    {{ pmu_ranked_bodies(source('pmu', 'pmu_programme')) }}
),

programme as (
    select
        raw_id,
        race_date,
        served_at,
        snapshot_rank,
        -- the live API wraps the day in {"programme": ...}; some recordings dropped the wrapper
        coalesce(body -> 'programme', body) as programme
    from bodies
),

meetings as (
    select
        programme.raw_id,
        programme.race_date,
        programme.served_at,
        programme.snapshot_rank,
        programme.programme ->> 'date' as programme_date_ms,
        meeting.value as meeting
    from programme
    cross join lateral jsonb_array_elements({{ pmu_json_array("programme.programme -> 'reunions'") }}) as meeting
),

races as (
    select
        meetings.*,
        course.value as course
    from meetings
    left join lateral jsonb_array_elements({{ pmu_json_array("meetings.meeting -> 'courses'") }}) as course on true
)

select
    {{ pmu_race_id('race_date', pmu_int("meeting ->> 'numOfficiel'"), pmu_int("course ->> 'numOrdre'")) }} as race_id,
    {{ pmu_meeting_id('race_date', pmu_int("meeting ->> 'numOfficiel'")) }} as meeting_id,
    race_date,
    {{ pmu_paris_date('programme_date_ms') }} as programme_date,
    {{ pmu_int("meeting ->> 'numOfficiel'") }} as meeting_num,
    {{ pmu_int("course ->> 'numOrdre'") }} as race_num,
    raw_id as programme_raw_id,
    served_at as programme_served_at,
    snapshot_rank = 1 as is_latest_snapshot,

    -- meeting
    {{ pmu_int("meeting ->> 'numExterne'") }} as meeting_num_external,
    {{ pmu_text("meeting ->> 'nature'") }} as meeting_nature,
    {{ pmu_text("meeting ->> 'statut'") }} as meeting_status,
    {{ pmu_text("meeting ->> 'audience'") }} as meeting_audience,
    {{ pmu_text("meeting -> 'hippodrome' ->> 'code'") }} as hippodrome_code,
    {{ pmu_text("course -> 'hippodrome' ->> 'codeHippodrome'") }} as race_hippodrome_code,
    {{ pmu_text("meeting -> 'hippodrome' ->> 'libelleCourt'") }} as hippodrome_name,
    {{ pmu_text("meeting -> 'hippodrome' ->> 'libelleLong'") }} as hippodrome_long_name,
    {{ pmu_text("meeting -> 'pays' ->> 'code'") }} as country_code,
    {{ pmu_text("meeting -> 'pays' ->> 'libelle'") }} as country_name,
    (
        select string_agg(d.value, ',' order by d.value)
        from jsonb_array_elements_text({{ pmu_json_array("meeting -> 'disciplinesMere'") }}) as d
    ) as meeting_disciplines,
    (
        select string_agg(s.value, ',' order by s.value)
        from jsonb_array_elements_text({{ pmu_json_array("meeting -> 'specialites'") }}) as s
    ) as meeting_specialties,
    {{ pmu_epoch_ms_to_timestamptz("meeting -> 'meteo' ->> 'datePrevision'") }} as weather_forecast_at,
    {{ pmu_text("meeting -> 'meteo' ->> 'nebulositeCode'") }} as weather_code,
    {{ pmu_text("meeting -> 'meteo' ->> 'nebulositeLibelleCourt'") }} as weather_label,
    {{ pmu_numeric("meeting -> 'meteo' ->> 'temperature'") }} as temperature_c,
    {{ pmu_numeric("meeting -> 'meteo' ->> 'forceVent'") }} as wind_speed_kmh,
    {{ pmu_text("meeting -> 'meteo' ->> 'directionVent'") }} as wind_direction,

    -- race
    {{ pmu_int("course ->> 'numExterne'") }} as race_num_external,
    {{ pmu_epoch_ms_to_timestamptz("course ->> 'heureDepart'") }} as race_start_at,
    {{ pmu_text("course ->> 'libelle'") }} as race_name,
    {{ pmu_text("course ->> 'libelleCourt'") }} as race_short_name,
    {{ pmu_int("course ->> 'distance'") }} as distance_m,
    {{ pmu_text("course ->> 'distanceUnit'") }} as distance_unit,
    {{ pmu_text("course ->> 'parcours'") }} as course_layout,
    {{ pmu_text("course ->> 'corde'") }} as rail_side,
    {{ pmu_text("course ->> 'typePiste'") }} as track_surface,
    {{ pmu_text("course ->> 'discipline'") }} as discipline,
    {{ pmu_text("course ->> 'specialite'") }} as specialty,
    {{ pmu_text("course ->> 'categorieParticularite'") }} as race_category,
    {{ pmu_text("course ->> 'conditionAge'") }} as condition_age,
    {{ pmu_text("course ->> 'conditionSexe'") }} as condition_sex,
    {{ pmu_text("course ->> 'conditions'") }} as conditions,
    -- prizes and allocations are in euros already (only horse earnings and dividends are cents)
    {{ pmu_numeric("course ->> 'montantPrix'") }} as prize_eur,
    {{ pmu_numeric("course ->> 'montantTotalOffert'") }} as total_offered_eur,
    {{ pmu_numeric("course ->> 'montantOffert1er'") }} as prize_1st_eur,
    {{ pmu_numeric("course ->> 'montantOffert2eme'") }} as prize_2nd_eur,
    {{ pmu_numeric("course ->> 'montantOffert3eme'") }} as prize_3rd_eur,
    {{ pmu_numeric("course ->> 'montantOffert4eme'") }} as prize_4th_eur,
    {{ pmu_numeric("course ->> 'montantOffert5eme'") }} as prize_5th_eur,
    {{ pmu_int("course ->> 'nombreDeclaresPartants'") }} as declared_runners,
    {{ pmu_text("course ->> 'statut'") }} as race_status,
    {{ pmu_text("course ->> 'categorieStatut'") }} as race_status_category,
    {{ pmu_bool("course ->> 'arriveeDefinitive'") }} as is_result_final,
    {{ pmu_bool("course ->> 'rapportsDefinitifsDisponibles'") }} as has_final_dividends,
    {{ pmu_ms_to_seconds("course ->> 'dureeCourse'") }} as race_duration_s,
    {{ pmu_numeric("course -> 'penetrometre' ->> 'valeurMesure'") }} as going_value,
    {{ pmu_text("course -> 'penetrometre' ->> 'intitule'") }} as going_label,
    {{ pmu_text("course -> 'penetrometre' ->> 'heureMesure'") }} as going_measured_at_local,
    course -> 'paris' as bets_offered_json,
    course -> 'ordreArrivee' as finish_order_json,
    course -> 'incidents' as incidents_json,
    -- a time that is a number but not a plausible one (nulled above rather than failing the build)
    (
        {{ pmu_epoch_ms_out_of_range('programme_date_ms') }}
        or {{ pmu_epoch_ms_out_of_range("meeting -> 'meteo' ->> 'datePrevision'") }}
        or {{ pmu_epoch_ms_out_of_range("course ->> 'heureDepart'") }}
    ) as has_out_of_range_time
from races
