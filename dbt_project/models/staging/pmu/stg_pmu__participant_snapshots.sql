{#- Every participants body landed (each a snapshot of one race at the time it was served),
    unpacked to one row per runner and snapshot. The only model that reads raw participants:
    stg_pmu__participants keeps the latest snapshot (is_latest_snapshot), stg_pmu__odds_snapshots
    the odds of all of them. -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id', 'num_pmu']}]) }}

with bodies as (
    {{ pmu_ranked_bodies(source('pmu', 'pmu_participants')) }}
),

runners as (
    select
        bodies.raw_id,
        bodies.race_date,
        bodies.meeting_num,
        bodies.race_num,
        bodies.served_at,
        bodies.snapshot_rank,
        runner.value as p
    from bodies
    cross join lateral jsonb_array_elements({{ pmu_json_array("bodies.body -> 'participants'") }}) as runner
)

select
    {{ pmu_race_id('race_date', 'meeting_num', 'race_num') }} as race_id,
    race_date,
    meeting_num,
    race_num,
    {{ pmu_int("p ->> 'numPmu'") }} as num_pmu,
    raw_id as snapshot_raw_id,
    served_at as snapshot_served_at,
    snapshot_rank = 1 as is_latest_snapshot,

    -- horse
    {{ pmu_text("p ->> 'idCheval'") }} as horse_id_pmu,
    {{ pmu_text("p ->> 'nom'") }} as horse_name,
    {{ pmu_int("p ->> 'age'") }} as age,
    {{ pmu_text("p ->> 'sexe'") }} as sex,
    extract(year from race_date)::integer - {{ pmu_int("p ->> 'age'") }} as birth_year,
    {{ pmu_horse_key("p ->> 'idCheval'", "p ->> 'nom'", 'race_date', pmu_int("p ->> 'age'"), pmu_text("p ->> 'sexe'")) }} as horse_key,
    {{ pmu_text("p ->> 'race'") }} as breed,
    {{ pmu_text("p -> 'robe' ->> 'libelleLong'") }} as coat,
    {{ pmu_text("p ->> 'pays'") }} as birth_country,
    {{ pmu_text("p ->> 'nomPere'") }} as sire_name,
    {{ pmu_text("p ->> 'nomMere'") }} as dam_name,
    {{ pmu_text("p ->> 'nomPereMere'") }} as dam_sire_name,

    -- people
    {{ pmu_text("p ->> 'driver'") }} as jockey_name,
    {{ pmu_person_key("p ->> 'driver'") }} as jockey_key,
    {{ pmu_bool("p ->> 'driverChange'") }} as is_jockey_change,
    {{ pmu_text("p ->> 'entraineur'") }} as trainer_name,
    {{ pmu_person_key("p ->> 'entraineur'") }} as trainer_key,
    {{ pmu_text("p ->> 'proprietaire'") }} as owner_name,
    {{ pmu_person_key("p ->> 'proprietaire'") }} as owner_key,
    {{ pmu_text("p ->> 'eleveur'") }} as breeder_name,
    {{ pmu_person_key("p ->> 'eleveur'") }} as breeder_key,
    {{ pmu_text("p ->> 'paysEntrainement'") }} as training_country,
    {{ pmu_text("p ->> 'avisEntraineur'") }} as trainer_opinion,
    {{ pmu_text("p ->> 'ecurie'") }} as stable_code,

    -- declaration
    {{ pmu_text("p ->> 'statut'") }} as runner_status,
    {{ pmu_text("p ->> 'allure'") }} as gait,
    {{ pmu_hg_to_kg("p ->> 'handicapPoids'") }} as weight_kg,
    {{ pmu_hg_to_kg("nullif(p ->> 'poidsConditionMonte', '0')") }} as rider_weight_kg,
    {{ pmu_numeric("p ->> 'handicapValeur'") }} as handicap_rating,
    {{ pmu_int("p ->> 'handicapDistance'") }} as handicap_distance_m,
    {{ pmu_int("p ->> 'placeCorde'") }} as draw,
    {{ pmu_text("p ->> 'deferre'") }} as shoeing,
    {{ pmu_text("p ->> 'oeilleres'") }} as blinkers,
    {{ pmu_bool("p ->> 'indicateurInedit'") }} as is_debut,
    {{ pmu_bool("p ->> 'engagement'") }} as is_supplementary_entry,
    {{ pmu_int("p ->> 'supplement'") }} as supplement,
    {{ pmu_cents_to_euros("p ->> 'tauxReclamation'") }} as claiming_price_eur,
    {{ pmu_text("p ->> 'musique'") }} as form_string,

    -- record before the race (earnings in cents in the body)
    {{ pmu_int("p ->> 'nombreCourses'") }} as career_starts,
    {{ pmu_int("p ->> 'nombreVictoires'") }} as career_wins,
    {{ pmu_int("p ->> 'nombrePlaces'") }} as career_places,
    {{ pmu_int("p ->> 'nombrePlacesSecond'") }} as career_seconds,
    {{ pmu_int("p ->> 'nombrePlacesTroisieme'") }} as career_thirds,
    {{ pmu_cents_to_euros("p -> 'gainsParticipant' ->> 'gainsCarriere'") }} as earnings_career_eur,
    {{ pmu_cents_to_euros("p -> 'gainsParticipant' ->> 'gainsVictoires'") }} as earnings_wins_eur,
    {{ pmu_cents_to_euros("p -> 'gainsParticipant' ->> 'gainsPlace'") }} as earnings_places_eur,
    {{ pmu_cents_to_euros("p -> 'gainsParticipant' ->> 'gainsAnneeEnCours'") }} as earnings_this_year_eur,
    {{ pmu_cents_to_euros("p -> 'gainsParticipant' ->> 'gainsAnneePrecedente'") }} as earnings_last_year_eur,

    -- market at the time the body was served (decimal odds for 1 EUR)
    {{ pmu_numeric("p -> 'dernierRapportDirect' ->> 'rapport'") }} as odds_direct,
    {{ pmu_epoch_ms_to_timestamptz("p -> 'dernierRapportDirect' ->> 'dateRapport'") }} as odds_direct_at,
    {{ pmu_text("p -> 'dernierRapportDirect' ->> 'typePari'") }} as odds_direct_pool,
    {{ pmu_bool("p -> 'dernierRapportDirect' ->> 'favoris'") }} as is_market_favourite,
    {{ pmu_numeric("p -> 'dernierRapportReference' ->> 'rapport'") }} as odds_reference,
    {{ pmu_epoch_ms_to_timestamptz("p -> 'dernierRapportReference' ->> 'dateRapport'") }} as odds_reference_at,

    -- known only after the race
    {{ pmu_int("p ->> 'ordreArrivee'") }} as finish_place_reported,
    {{ pmu_ms_to_seconds("p ->> 'tempsObtenu'") }} as finish_time_s,
    {{ pmu_ms_to_seconds("p ->> 'reductionKilometrique'") }} as reduction_km_s,
    {{ pmu_text("p ->> 'incident'") }} as incident,
    {{ pmu_text("p -> 'distanceChevalPrecedent' ->> 'libelleLong'") }} as distance_to_previous,
    {{ pmu_text("p -> 'commentaireApresCourse' ->> 'texte'") }} as race_comment
from runners
