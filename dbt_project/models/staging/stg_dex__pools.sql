with source as (
    select * from {{ source('dex', 'dex_pools') }}
),

renamed as (
    select
        -- ids
        cast(chain as varchar) as chain,
        cast(dex as varchar) as dex,
        lower(pool) as pool,
        cast(token0 as varchar) as token0,
        cast(token1 as varchar) as token1,
        lower(token0_address) as token0_address,
        lower(token1_address) as token1_address,
        -- numbers
        cast(decimals0 as integer) as decimals0,
        cast(decimals1 as integer) as decimals1,
        cast(fee_bps as double) as fee_bps
    from source
    {{ deduplicate(['chain', 'dex', 'lower(pool)'], 'token0, token1') }}
)

select * from renamed
