{#- Profit and loss of the bets ledger (modeling.bets, written by `pmu bets`), per race day,
    strategy and bet type: stakes, what the settled bets paid back, ROI, mean closing-line value, and
    the running profit and drawdown of each strategy and bet type over the days. modeling.bets is
    a dbt source whose DDL exists only in ml/schema.sql; until it exists the mart builds empty,
    with its columns and types. -#}
{%- set bets_source = source('modeling', 'bets') -%}
{%- set bets_relation = none -%}
{%- if execute -%}
    {%- set bets_relation = adapter.get_relation(
        database=bets_source.database,
        schema=bets_source.schema,
        identifier=bets_source.identifier,
    ) -%}
{%- endif %}

with bets as (
    {%- if bets_relation is not none %}
        select
            race_date,
            coalesce(strategy, source) as strategy,
            bet_type,
            status,
            stake::numeric as stake,
            return_amount::numeric as return_amount,
            clv
        from {{ bets_source }}
    {%- else %}
        -- no modeling.bets yet: no rows, with the types of its columns in ml/schema.sql
        select
            null::date as race_date,
            null::text as strategy,
            null::text as bet_type,
            null::text as status,
            null::numeric as stake,
            null::numeric as return_amount,
            null::double precision as clv
        where false
    {%- endif %}
),

daily as (
    select
        race_date,
        strategy,
        bet_type,
        count(*) as bets,
        count(*) filter (where status = 'open') as open_bets,
        -- sums in numeric: a rebuild gives the same table bit for bit
        coalesce(sum(stake) filter (where status <> 'open'), 0) as stakes,
        coalesce(sum(return_amount) filter (where status <> 'open'), 0) as paid_back,
        avg(clv) filter (where status <> 'open') as clv_mean
    from bets
    group by race_date, strategy, bet_type
),

running as (
    select
        *,
        sum(paid_back - stakes) over (
            partition by strategy, bet_type order by race_date rows unbounded preceding
        ) as cumulative_profit
    from daily
)

select
    race_date,
    strategy,
    bet_type,
    bets,
    open_bets,
    stakes::double precision as stakes,
    paid_back::double precision as paid_back,
    (paid_back - stakes)::double precision as profit,
    ((paid_back - stakes) / nullif(stakes, 0))::double precision as roi,
    clv_mean,
    cumulative_profit::double precision as cumulative_profit,
    (
        greatest(
            max(cumulative_profit) over (
                partition by strategy, bet_type order by race_date rows unbounded preceding
            ),
            0
        ) - cumulative_profit
    )::double precision as drawdown
from running
