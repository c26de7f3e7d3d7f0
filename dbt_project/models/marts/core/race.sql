{#- Races, key race_id `YYYY-MM-DD-R{meeting numOfficiel}-C{race numOrdre}` (numExterne repeats). -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id'], 'unique': True}]) }}

select
    race_id,
    meeting_id,
    race_date,
    meeting_num,
    race_num,
    race_num_external,
    race_start_at,
    race_name,
    race_short_name,
    discipline,
    specialty,
    distance_m,
    course_layout,
    rail_side,
    track_surface,
    race_category,
    condition_age,
    condition_sex,
    conditions,
    prize_eur,
    total_offered_eur,
    prize_1st_eur,
    prize_2nd_eur,
    prize_3rd_eur,
    prize_4th_eur,
    prize_5th_eur,
    declared_runners,
    race_status,
    race_status_category,
    race_status = 'COURSE_ANNULEE' as is_cancelled,
    coalesce(jsonb_typeof(finish_order_json) = 'array' and jsonb_array_length(finish_order_json) > 0, false)
        as has_result,
    is_result_final,
    has_final_dividends,
    race_duration_s,
    going_value,
    going_label,
    programme_served_at
from {{ ref('stg_pmu__programme') }}
where race_id is not null and {{ race_date_window() }}
