with source as (
    select * from {{ source('lending', 'lending_reserves') }}
),

renamed as (
    select
        -- ids
        cast(chain as varchar) as chain,
        cast(protocol as varchar) as protocol,
        lower(market) as market,
        cast(block_number as bigint) as block_number,
        lower(block_hash) as block_hash,
        cast(log_index as integer) as log_index,
        lower(reserve) as reserve,
        -- numbers
        cast(supply_rate as double) as supply_rate,
        cast(variable_borrow_rate as double) as variable_borrow_rate,
        cast(stable_borrow_rate as double) as stable_borrow_rate,
        cast(liquidity_index as double) as liquidity_index,
        cast(variable_borrow_index as double) as variable_borrow_index,
        cast(total_supplied as double) as total_supplied,
        cast(total_borrowed as double) as total_borrowed,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['chain', 'protocol', 'lower(market)', 'block_number', 'log_index'], 'supply_rate', time_column='ts') }}
)

select * from renamed
