with source as (
    select * from {{ source('dex', 'dex_swaps') }}
),

renamed as (
    select
        -- ids
        cast(chain as varchar) as chain,
        cast(dex as varchar) as dex,
        lower(pool) as pool,
        cast(block_number as bigint) as block_number,
        lower(block_hash) as block_hash,
        cast(log_index as integer) as log_index,
        lower(tx_hash) as tx_hash,
        lower(sender) as sender,
        lower(recipient) as recipient,
        -- numbers
        cast(amount0 as double) as amount0,
        cast(amount1 as double) as amount1,
        cast(price as double) as price,
        cast(sqrt_price_x96 as varchar) as sqrt_price_x96,
        cast(tick as integer) as tick,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['chain', 'dex', 'lower(pool)', 'block_number', 'log_index'], 'tx_hash, price', time_column='ts') }}
)

select * from renamed
