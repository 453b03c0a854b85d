with source as (
    select * from {{ source('exchange', 'exchange_trades') }}
),

renamed as (
    select
        -- ids
        cast(venue as varchar) as venue,
        cast(symbol as varchar) as symbol,
        split_part(symbol, '/', 1) as asset,
        split_part(symbol, '/', 2) as quote,
        cast(trade_id as varchar) as trade_id,
        lower(side) as side,
        -- numbers
        cast(price as double) as price,
        cast(amount as double) as amount,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['venue', 'symbol', 'trade_id'], 'price, amount, side', time_column='ts') }}
)

select * from renamed
