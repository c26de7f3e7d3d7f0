{#- Bet types offered on each race (the programme's `paris` array), one row per race and bet code. -#}
{{ config(indexes=[{'columns': ['race_date']}]) }}

with races as (
    select
        race_id,
        race_date,
        bets_offered_json
    from {{ ref('stg_pmu__programme') }}
    where race_id is not null and {{ race_date_window() }}
)

select
    races.race_id,
    races.race_date,
    {{ pmu_text("bet.value ->> 'codePari'") }} as bet_code,
    {{ pmu_text("bet.value ->> 'typePari'") }} as bet_type,
    {{ pmu_cents_to_euros("bet.value ->> 'miseBase'") }} as base_stake_eur,
    {{ pmu_cents_to_euros("bet.value ->> 'miseMax'") }} as max_stake_eur,
    {{ pmu_int("bet.value ->> 'nbChevauxReglementaire'") }} as runners_in_combination,
    {{ pmu_text("bet.value ->> 'audience'") }} as audience,
    {{ pmu_bool("bet.value ->> 'enVente'") }} as is_on_sale,
    {{ pmu_bool("bet.value ->> 'reportable'") }} as is_carry_over,
    {{ pmu_bool("bet.value ->> 'ordre'") }} as is_ordered,
    {{ pmu_bool("bet.value ->> 'combine'") }} as is_combinable,
    {{ pmu_cents_to_euros("bet.value ->> 'cagnotte'") }} as jackpot_eur
from races
cross join lateral jsonb_array_elements({{ pmu_json_array('races.bets_offered_json') }}) as bet
