{#- rapports-definitifs of the latest body per race: one row per paid dividend. One bet type pays
    several rows with the same combination (TIERCE Ordre/Désordre, MULTI en 4..7, QUINTE_PLUS
    Bonus 4sur5), so a dividend is keyed by bet type + label + combination. Amounts in the body are
    cents: `dividendePourUnEuro` = cents returned per 1 EUR staked. -#}
{{ config(indexes=[{'columns': ['race_date']}]) }}

with bodies as (
    {{ pmu_ranked_bodies(source('pmu', 'pmu_rapports')) }}
),

bet_types as (
    select
        bodies.raw_id,
        bodies.race_date,
        bodies.meeting_num,
        bodies.race_num,
        bodies.served_at,
        bet.value as bet
    from bodies
    cross join
        lateral jsonb_array_elements(
            -- the endpoint answers a JSON array of bet types; tolerate an object wrapper
            {{ pmu_json_array("case jsonb_typeof(bodies.body) when 'array' then bodies.body else bodies.body -> 'rapportsDefinitifs' end") }}
        ) as bet
    where bodies.snapshot_rank = 1
)

select
    {{ pmu_race_id('bet_types.race_date', 'bet_types.meeting_num', 'bet_types.race_num') }} as race_id,
    bet_types.race_date,
    bet_types.raw_id as rapports_raw_id,
    bet_types.served_at as rapports_served_at,
    {{ pmu_text("bet_types.bet ->> 'typePari'") }} as bet_type,
    {{ pmu_text("bet_types.bet ->> 'famillePari'") }} as bet_family,
    {{ pmu_cents_to_euros("bet_types.bet ->> 'miseBase'") }} as base_stake_eur,
    {{ pmu_bool("bet_types.bet ->> 'rembourse'") }} as is_refunded,
    {{ pmu_text("payout.value ->> 'libelle'") }} as label,  -- noqa: RF04
    {{ pmu_text("payout.value ->> 'combinaison'") }} as combination,
    {{ pmu_cents_to_euros("payout.value ->> 'dividendePourUnEuro'") }} as dividend_per_eur,
    {{ pmu_cents_to_euros("payout.value ->> 'dividendePourUneMiseDeBase'") }} as dividend_per_base_stake_eur,
    {{ pmu_numeric("payout.value ->> 'nombreGagnants'") }} as winning_stakes
from bet_types
cross join lateral jsonb_array_elements({{ pmu_json_array("bet_types.bet -> 'rapports'") }}) as payout
