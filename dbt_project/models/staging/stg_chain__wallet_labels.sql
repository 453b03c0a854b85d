with source as (
    select * from {{ source('chain', 'wallet_labels') }}
),

renamed as (
    select
        -- ids
        cast(chain as varchar) as chain,
        lower(address) as address,
        cast(label as varchar) as label,
        lower(category) as category
    from source
    {{ deduplicate(['chain', 'lower(address)'], 'label') }}
)

select * from renamed
