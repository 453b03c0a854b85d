{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'venue', 'bar_time'],
        on_schema_change='fail',
    )
}}

with trades as (
    select *
    from {{ ref('stg_exchange__trades') }}
    where true
        {{- symbol_filter() }}
        {{- raw_window_filter('ts') }}
)

select
    asset,
    venue,
    {{ bar_close('ts') }} as bar_time,
    count(*) as trade_count,
    sum(amount) as volume,
    sum(price * amount) as notional,
    sum(price * amount) / nullif(sum(amount), 0) as vwap,
    coalesce(sum(amount) filter (where side = 'buy'), 0) as buy_volume
from trades
group by all
