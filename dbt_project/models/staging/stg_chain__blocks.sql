with source as (
    select * from {{ source('chain', 'chain_blocks') }}
),

renamed as (
    select
        -- ids
        cast(chain as varchar) as chain,
        cast(block_number as bigint) as block_number,
        lower(block_hash) as block_hash,
        lower(parent_hash) as parent_hash,
        -- numbers
        cast(tx_count as integer) as tx_count,
        cast(active_addresses as integer) as active_addresses,
        cast(gas_used as bigint) as gas_used,
        cast(gas_limit as bigint) as gas_limit,
        cast(base_fee_gwei as double) as base_fee_gwei,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['chain', 'block_number'], 'block_hash', time_column='ts') }}
)

select * from renamed
