{#- Bet types offered per race, key (race_id, bet_code). -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id']}]) }}

select
    race_id,
    bet_code,
    race_date,
    bet_type,
    base_stake_eur,
    max_stake_eur,
    runners_in_combination,
    audience,
    is_on_sale,
    is_carry_over,
    is_ordered,
    is_combinable,
    jackpot_eur
from {{ ref('stg_pmu__race_bets') }}
where {{ race_date_window() }}
