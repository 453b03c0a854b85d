{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'bar_time'],
        on_schema_change='fail',
    )
}}

-- The book across venues per bar: mean quoted spread, depth imbalance of the top levels, and the
-- consolidated best bid/ask (best over venues at each venue's last snapshot in the bar).
with levels as (
    select *
    from {{ ref('stg_exchange__order_book_levels') }}
    where level < {{ var('book_levels') }}
        {{- symbol_filter() }}
        {{- raw_window_filter('ts') }}
),

snapshots as (
    select
        asset,
        venue,
        ts,
        max(price) filter (where side = 'bid' and level = 0) as best_bid,
        min(price) filter (where side = 'ask' and level = 0) as best_ask,
        coalesce(sum(amount) filter (where side = 'bid'), 0) as bid_depth,
        coalesce(sum(amount) filter (where side = 'ask'), 0) as ask_depth
    from levels
    group by asset, venue, ts
),

bucketed as (
    select *, {{ bar_close('ts') }} as bar_time
    from snapshots
),

last_per_venue as (
    select
        asset,
        bar_time,
        arg_max(best_bid, ts) as best_bid,
        arg_max(best_ask, ts) as best_ask
    from bucketed
    group by asset, venue, bar_time
),

consolidated_top as (
    select asset, bar_time, max(best_bid) as best_bid, min(best_ask) as best_ask
    from last_per_venue
    group by asset, bar_time
),

per_bar as (
    select
        asset,
        bar_time,
        count(*) as snapshot_count,
        avg((best_ask - best_bid) / ((best_ask + best_bid) / 2)) * 1e4 as spread_bps,
        sum(bid_depth) as bid_depth,
        sum(ask_depth) as ask_depth,
        (sum(bid_depth) - sum(ask_depth)) / nullif(sum(bid_depth) + sum(ask_depth), 0) as book_imbalance
    from bucketed
    group by asset, bar_time
)

select
    p.asset,
    p.bar_time,
    p.snapshot_count,
    p.spread_bps,
    p.bid_depth,
    p.ask_depth,
    p.book_imbalance,
    t.best_bid,
    t.best_ask,
    (t.best_ask - t.best_bid) / ((t.best_ask + t.best_bid) / 2) * 1e4 as consolidated_spread_bps
from per_bar p
join consolidated_top t using (asset, bar_time)
