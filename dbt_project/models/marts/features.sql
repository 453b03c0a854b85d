{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'bar_time'],
        on_schema_change='fail',
        window_to_newest=true,
    )
}}

-- One row per (asset, bar_time); bar_time is the bar's close, and every value uses only raw data with
-- time < bar_time. Trailing windows are RANGE frames over the bar's position (bar_index: time in bars,
-- or stored bars for a market with sessions), so a missing bar shortens a window instead of reaching
-- further back; a window that is not full gives NULL. A closed session is not a missing bar.
--
-- A bar's features depend on the bars of its trailing windows, so an incremental run rebuilds from its
-- window's start to the newest bar (window_to_newest), reading its inputs from the longest trailing
-- window before that start (`context`) rather than from all history.
{%- set vol_n = var('vol_window') | int %}
{%- set z_n = var('zscore_window') | int %}
{%- set context = window_context_start(([vol_n, z_n] + var('return_lags')) | max) %}
{%- set after_context = (" and bar_time > timestamp '" ~ context ~ "'") if context is not none else '' %}

with bars as (
    select *, {{ bar_index() }} as bar_index from {{ ref('int_bars_consolidated') }}
    where true {{ after_context }}
),

indicators as (
    select * from {{ ref('int_indicators') }}
    where true {{ after_context }}
),

trades as (
    select
        asset,
        bar_time,
        sum(notional) / nullif(sum(volume), 0) as vwap,
        sum(buy_volume) / nullif(sum(volume), 0) as taker_buy_ratio
    from {{ ref('int_venue_trades_aggregated') }}
    where true {{ after_context }}
    group by asset, bar_time
),

books as (
    select * from {{ ref('int_order_books_consolidated') }}
    where true {{ after_context }}
),

-- The DEX price of each bar: the newest bar with a swap at or before its close (pools may go a bar
-- without a swap), however far back.
dex_priced as (
    select asset, bar_time, dex_log_price
    from {{ ref('int_dex_bars_aggregated') }}
    where dex_log_price is not null
),

dex as (
    select b.asset, b.bar_time, d.dex_log_price as dex_log_price_latest
    from bars b
    asof left join dex_priced d on d.asset = b.asset and d.bar_time <= b.bar_time
),

-- Chains that carry each asset's token: their activity is the asset's chain activity.
asset_chains as (
    select distinct asset, chain from {{ ref('stg_chain__tokens') }}
),

chain_activity as (
    select
        ac.asset,
        m.bar_time,
        sum(m.block_count) as block_count,
        sum(m.tx_count) as tx_count,
        sum(m.active_addresses) as active_addresses
    from {{ ref('int_chain_metrics_bucketed') }} m
    join asset_chains ac using (chain)
    where true {{ after_context | replace('bar_time', 'm.bar_time') }}
    group by ac.asset, m.bar_time
),

flows as (
    select * from {{ ref('int_token_flows_bucketed') }}
    where true {{ after_context }}
),

joined as (
    select
        b.asset,
        b.bar_time,
        b.bar_index,
        b.log_close,
        b.close,
        b.volume,
        b.realized_variance,
        b.log_close_dispersion,
        i.rsi,
        i.macd,
        i.macd_signal,
        i.macd_hist,
        i.atr,
        i.bb_upper,
        i.bb_lower,
        t.vwap,
        t.taker_buy_ratio,
        o.book_imbalance,
        o.spread_bps,
        o.consolidated_spread_bps,
        d.dex_log_price_latest,
        c.block_count,
        c.active_addresses,
        c.tx_count,
        -- With blocks in the bar, no transfer means zero flow; without chain data the flow is unknown.
        case when c.block_count > 0 then coalesce(f.transfer_count, 0) end as transfer_count,
        case when c.block_count > 0 then coalesce(f.transfer_volume, 0) end as transfer_volume,
        case when c.block_count > 0 then coalesce(f.whale_transfer_count, 0) end as whale_transfer_count,
        case when c.block_count > 0 then coalesce(f.whale_transfer_volume, 0) end as whale_transfer_volume,
        case when c.block_count > 0 then coalesce(f.exchange_inflow, 0) end as exchange_inflow,
        case when c.block_count > 0 then coalesce(f.exchange_outflow, 0) end as exchange_outflow,
        case when c.block_count > 0 then coalesce(f.net_exchange_flow, 0) end as net_exchange_flow
    from bars b
    left join indicators i using (asset, bar_time)
    left join trades t using (asset, bar_time)
    left join books o using (asset, bar_time)
    left join dex d using (asset, bar_time)
    left join chain_activity c using (asset, bar_time)
    left join flows f using (asset, bar_time)
),

windowed as (
    select
        *,
        {%- for k in var('return_lags') %}
        first_value(log_close) over (
            partition by asset order by bar_index range between {{ k }} preceding and {{ k }} preceding
        ) as log_close_lag_{{ k }},
        {%- endfor %}
        count(*) over last_vol as bars_in_vol_window,
        sum(realized_variance) over last_vol as realized_variance_window,
        avg(ln(volume)) over last_vol as log_volume_mean,
        stddev_samp(ln(volume)) over last_vol as log_volume_std,
        count(net_exchange_flow) over last_z as bars_in_z_window,
        avg(net_exchange_flow) over last_z as net_exchange_flow_mean,
        stddev_samp(net_exchange_flow) over last_z as net_exchange_flow_std
    from joined
    window
        last_vol as (partition by asset order by bar_index range between {{ vol_n - 1 }} preceding and current row),
        last_z as (partition by asset order by bar_index range between {{ z_n - 1 }} preceding and current row)
),

features as (
    select
        asset,
        bar_time,
        -- returns and volatility of the reference (log-mean across venues) close
        {%- for k in var('return_lags') %}
        log_close - log_close_lag_{{ k }} as ret_{{ k }},
        {%- endfor %}
        sqrt(realized_variance) as realized_vol_bar,
        case when bars_in_vol_window = {{ vol_n }} then sqrt(realized_variance_window) end as realized_vol,
        -- technical indicators (TA-Lib conventions); MACD and ATR in units of the close
        rsi,
        macd / close as macd_rel,
        macd_signal / close as macd_signal_rel,
        macd_hist / close as macd_hist_rel,
        atr / close as atr_rel,
        (close - bb_lower) / nullif(bb_upper - bb_lower, 0) as bb_pct_b,
        -- trading activity
        ln(close / vwap) as vwap_dev,
        case when bars_in_vol_window = {{ vol_n }} and log_volume_std > 0
            then (ln(volume) - log_volume_mean) / log_volume_std end as volume_z,
        taker_buy_ratio,
        -- order books and venues
        book_imbalance,
        spread_bps,
        consolidated_spread_bps,
        log_close_dispersion * 1e4 as dispersion_bps,
        (dex_log_price_latest - log_close) * 1e4 as dex_cex_basis_bps,
        -- chain
        active_addresses,
        tx_count,
        transfer_count,
        transfer_volume,
        whale_transfer_count,
        whale_transfer_volume,
        exchange_inflow,
        exchange_outflow,
        net_exchange_flow,
        case when bars_in_z_window = {{ z_n }} and net_exchange_flow_std > 0
            then (net_exchange_flow - net_exchange_flow_mean) / net_exchange_flow_std end as net_exchange_flow_z
    from windowed
)

select
    asset,
    bar_time,
    {%- for column in feature_columns() %}
    cast({{ column }} as double) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
from features
where true
    {{- bar_window_filter() }}
