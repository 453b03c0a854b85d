{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'venue', 'bar_time'],
        on_schema_change='fail',
    )
}}

{%- set candle_seconds = interval_seconds(var('candle_timeframe')) %}
{%- if bar_seconds() % candle_seconds != 0 %}
    {{ exceptions.raise_compiler_error("bar " ~ var('bar') ~ " is not a whole number of " ~ var('candle_timeframe') ~ " candles") }}
{%- endif %}

with candles as (
    select *
    from {{ ref('stg_exchange__candles') }}
    where timeframe = '{{ var("candle_timeframe") }}'
        {{- symbol_filter() }}
        {{- raw_window_filter('open_time') }}
),

-- A venue's bar is published once its candles reach the bar's close, so the newest bar is never half full.
watermarks as (
    select venue, symbol, max(open_time) + interval '{{ candle_seconds }} seconds' as data_until
    from {{ source('exchange', 'exchange_ohlcv') }}
    where timeframe = '{{ var("candle_timeframe") }}'
    group by venue, symbol
),

bucketed as (
    select
        c.*,
        {{ bar_close('c.open_time') }} as bar_time,
        ln(c.close / c.open) as candle_log_return
    from candles c
    join watermarks w using (venue, symbol)
    where {{ bar_close('c.open_time') }} <= w.data_until
),

resampled as (
    select
        asset,
        any_value(quote) as quote,
        venue,
        bar_time,
        arg_min(open, open_time) as open,
        max(high) as high,
        min(low) as low,
        arg_max(close, open_time) as close,
        sum(volume) as volume,
        sum(candle_log_return * candle_log_return) as realized_variance,
        count(*) as candle_count
    from bucketed
    group by asset, venue, symbol, bar_time
)

select * from resampled
