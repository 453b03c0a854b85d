with source as (
    select * from {{ source('exchange', 'exchange_ohlcv') }}
),

renamed as (
    select
        -- ids
        cast(venue as varchar) as venue,
        cast(symbol as varchar) as symbol,
        split_part(symbol, '/', 1) as asset,
        split_part(symbol, '/', 2) as quote,
        cast(timeframe as varchar) as timeframe,
        -- numbers
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(close as double) as close,
        cast(volume as double) as volume,
        -- times
        cast(open_time as timestamp) as open_time
    from source
    {{ deduplicate(['venue', 'symbol', 'timeframe', 'open_time'], 'close, volume') }}
)

select * from renamed
