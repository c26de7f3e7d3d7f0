{#- Final dividends, key (race_id, bet_type, label, combination): one bet type pays several labels
    for one combination (TIERCE Ordre/Désordre, MULTI en 4..7), so the label is part of the key.
    Amounts in euros (the body's cents / 100). -#}
{{ config(indexes=[{'columns': ['race_date']}, {'columns': ['race_id']}]) }}

select
    race_id,
    bet_type,
    label,
    combination,
    race_date,
    bet_family,
    base_stake_eur,
    is_refunded,
    dividend_per_eur,
    dividend_per_base_stake_eur,
    winning_stakes,
    rapports_served_at
from {{ ref('stg_pmu__dividends') }}
where {{ race_date_window() }}
