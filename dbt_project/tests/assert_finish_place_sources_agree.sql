{{ config(severity='warn') }}
-- Where both the programme's ordreArrivee and the runner's own ordreArrivee place a runner, they
-- agree; a mismatch would mean one of them is read wrongly (or the API contradicts itself).
select
    race_id,
    num_pmu,
    place_from_programme,
    place_from_participants
from {{ ref('int_runner_results') }}
where place_from_programme <> place_from_participants
