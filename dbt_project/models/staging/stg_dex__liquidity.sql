with source as (
    select * from {{ source('dex', 'dex_liquidity') }}
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
        cast(event as varchar) as event,
        lower(owner) as owner,
        -- numbers
        cast(tick_lower as integer) as tick_lower,
        cast(tick_upper as integer) as tick_upper,
        cast(liquidity as varchar) as liquidity,
        cast(amount0 as double) as amount0,
        cast(amount1 as double) as amount1,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['chain', 'dex', 'lower(pool)', 'block_number', 'log_index'], 'amount0', time_column='ts') }}
)

select * from renamed
