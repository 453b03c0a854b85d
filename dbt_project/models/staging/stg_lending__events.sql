with source as (
    select * from {{ source('lending', 'lending_events') }}
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
        lower(tx_hash) as tx_hash,
        cast(event as varchar) as event,
        lower(reserve) as reserve,
        lower("user") as borrower_or_supplier,
        lower(caller) as caller,
        lower(collateral_reserve) as collateral_reserve,
        -- numbers
        cast(amount as double) as amount,
        cast(collateral_amount as double) as collateral_amount,
        cast(borrow_rate as double) as borrow_rate,
        -- times
        cast(ts as timestamp) as ts
    from source
    {{ deduplicate(['chain', 'protocol', 'lower(market)', 'block_number', 'log_index'], 'amount', time_column='ts') }}
)

select * from renamed
