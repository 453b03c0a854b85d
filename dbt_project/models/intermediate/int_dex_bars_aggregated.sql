{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'bar_time'],
        on_schema_change='fail',
    )
}}

-- Per asset and bar: each pool's last swap price in the bar (by block and log index), averaged over the
-- asset's pools in log space, with swap count and volume in asset units.
with prices as (
    select *, {{ bar_close('ts') }} as bar_time
    from {{ ref('int_dex_prices_oriented') }}
    where true
        {{- raw_window_filter('ts') }}
),

per_pool as (
    select
        asset,
        chain,
        dex,
        pool,
        bar_time,
        max_by(price, block_number * 1000000 + log_index) as last_price,
        count(*) as swap_count,
        sum(asset_amount) as asset_volume
    from prices
    group by all
)

select
    asset,
    bar_time,
    count(*) as pool_count,
    avg(ln(last_price)) as dex_log_price,
    sum(swap_count) as swap_count,
    sum(asset_volume) as dex_volume
from per_pool
group by asset, bar_time
