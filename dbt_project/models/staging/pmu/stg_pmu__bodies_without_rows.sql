{#- The quarantine of bodies that landed (valid jsonb) but give staging no rows: a participants or
    performances body that is `null` or whose `participants` is missing, an object or empty; a
    programme without `reunions`; rapports without a list of bet types. Each is read the way its
    staging model reads it (pmu_json_array), so a row here is a body that vanished there. A view
    over all of raw: the Dagster check every_landed_body_yields_rows reads it for the days it checks. -#}
{{ config(materialized='view', alias='bodies_without_rows') }}

with listed as (
    select
        'programme' as endpoint,
        raw_id,
        race_date,
        meeting_num,
        race_num,
        url,
        'programme.reunions' as list_path,
        coalesce(body -> 'programme', body) -> 'reunions' as list_json
    from {{ source('pmu', 'pmu_programme') }}
    union all
    select
        'participants' as endpoint,
        raw_id,
        race_date,
        meeting_num,
        race_num,
        url,
        'participants' as list_path,
        body -> 'participants' as list_json
    from {{ source('pmu', 'pmu_participants') }}
    union all
    select
        'performances' as endpoint,
        raw_id,
        race_date,
        meeting_num,
        race_num,
        url,
        'participants' as list_path,
        body -> 'participants' as list_json
    from {{ source('pmu', 'pmu_performances') }}
    union all
    select
        'rapports' as endpoint,
        raw_id,
        race_date,
        meeting_num,
        race_num,
        url,
        'rapportsDefinitifs' as list_path,
        case jsonb_typeof(body) when 'array' then body else body -> 'rapportsDefinitifs' end as list_json
    from {{ source('pmu', 'pmu_rapports') }}
)

select
    endpoint,
    raw_id,
    race_date,
    meeting_num,
    race_num,
    url,
    case
        when list_json is null then list_path || ' is missing (or the body is not an object)'
        when jsonb_typeof(list_json) != 'array' then list_path || ' is ' || jsonb_typeof(list_json) || ', not an array'
        else list_path || ' is an empty array'
    end as reason
from listed
where jsonb_array_length({{ pmu_json_array('list_json') }}) = 0
