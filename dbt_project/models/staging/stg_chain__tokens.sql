with source as (
    select * from {{ source('chain', 'tokens') }}
),

renamed as (
    select
        -- ids
        cast(chain as varchar) as chain,
        cast(token as varchar) as token,
        lower(token_address) as token_address,
        cast(asset as varchar) as asset,
        -- numbers
        cast(decimals as integer) as decimals,
        cast(whale_threshold as double) as whale_threshold
    from source
    {{ deduplicate(['chain', 'token'], 'token_address') }}
)

select * from renamed
