with source as (
    select * from {{ source('dex', 'dex_pool_reserves') }}
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
        -- numbers
        cast(reserve0 as double) as reserve0,
        cast(reserve1 as double) as reserve1,
        cast(price as double) as price,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['chain', 'dex', 'lower(pool)', 'block_number', 'log_index'], 'price', time_column='ts') }}
)

select * from renamed
