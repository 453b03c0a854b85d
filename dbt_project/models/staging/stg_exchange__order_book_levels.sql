with source as (
    select * from {{ source('exchange', 'order_book_snapshots') }}
),

renamed as (
    select
        -- ids
        cast(venue as varchar) as venue,
        cast(symbol as varchar) as symbol,
        split_part(symbol, '/', 1) as asset,
        split_part(symbol, '/', 2) as quote,
        lower(side) as side,
        cast(level as integer) as level,
        -- numbers
        cast(price as double) as price,
        cast(amount as double) as amount,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['venue', 'symbol', 'ts', 'side', 'level'], 'price, amount') }}
)

select * from renamed
