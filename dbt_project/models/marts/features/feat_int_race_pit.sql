{#- One row per race: what the programme said about the race just before its start.
    Point in time: the latest programme snapshot known before the start it announced; when no
    snapshot was taken before the start (a day first seen late), the earliest one, so that landing
    later snapshots never changes the row. Only pre-race fields are read here. -#}
{{
    config(
        schema='intermediate',
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='race_date',
        indexes=[{'columns': ['race_date']}, {'columns': ['race_id'], 'unique': true}],
        on_schema_change='append_new_columns',
    )
}}

with snapshots as (
    select
        prog.raw_id,
        prog.race_date,
        {{ feat_known_at('prog') }} as known_at,
        {{ pmu_int("meeting.value ->> 'numOfficiel'") }} as meeting_num,
        {{ pmu_int("course.value ->> 'numOrdre'") }} as race_num,
        meeting.value as meeting_body,
        course.value as course_body,
        {{ pmu_epoch_ms_to_timestamptz("course.value ->> 'heureDepart'") }} as start_at
    from {{ source('pmu', 'pmu_programme') }} as prog
    cross join
        lateral jsonb_array_elements(
            {{ pmu_json_array("coalesce(prog.body -> 'programme', prog.body) -> 'reunions'") }}
        ) as meeting (value)
    cross join lateral jsonb_array_elements({{ pmu_json_array("meeting.value -> 'courses'") }}) as course (value)
    where
        prog.http_status between 200 and 299
        and {{ race_date_window('prog.race_date') }}
),

ranked as (
    select
        *,
        known_at < start_at as is_pre_race,
        row_number() over (
            partition by race_date, meeting_num, race_num
            order by
                (known_at < start_at) desc,
                case when known_at < start_at then known_at end desc,
                known_at asc,
                raw_id asc
        ) as pick
    from snapshots
    where start_at is not null
)

select
    {{ pmu_race_id('race_date', 'meeting_num', 'race_num') }} as race_id,
    race_date,
    meeting_num,
    race_num,
    start_at as race_start_at,
    known_at as programme_known_at,
    is_pre_race as programme_is_pre_race,
    course_body ->> 'discipline' as discipline,
    course_body ->> 'specialite' as specialty,
    {{ pmu_int("course_body ->> 'distance'") }} as distance_m,
    {{ feat_distance_band("course_body ->> 'discipline'", pmu_int("course_body ->> 'distance'")) }}
        as distance_band,
    {{ pmu_numeric("course_body ->> 'montantPrix'") }} as prize_eur,
    coalesce(
        course_body -> 'hippodrome' ->> 'codeHippodrome',
        meeting_body -> 'hippodrome' ->> 'code'
    ) as hippodrome_code,
    meeting_body -> 'pays' ->> 'code' as country_code,
    {{ pmu_numeric("course_body -> 'penetrometre' ->> 'valeurMesure'") }} as going_penetrometre,
    course_body -> 'penetrometre' ->> 'intitule' as going_label,
    course_body ->> 'typePiste' as track_type,
    course_body ->> 'corde' as rail,
    {{ pmu_int("course_body ->> 'nombreDeclaresPartants'") }} as declared_runners
from ranked
where pick = 1
