with source as (
    select * from {{ source('chain', 'token_transfers') }}
),

renamed as (
    select
        -- ids
        cast(chain as varchar) as chain,
        cast(block_number as bigint) as block_number,
        lower(block_hash) as block_hash,
        cast(log_index as integer) as log_index,
        lower(tx_hash) as tx_hash,
        cast(token as varchar) as token,
        lower(token_address) as token_address,
        lower(from_address) as from_address,
        lower(to_address) as to_address,
        -- numbers
        cast(amount as double) as amount,
        cast(amount_raw as varchar) as amount_raw,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['chain', 'block_number', 'log_index'], 'tx_hash, amount', time_column='ts') }}
)

select * from renamed
