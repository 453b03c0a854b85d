{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['chain', 'bar_time'],
        on_schema_change='fail',
    )
}}

-- Chain activity per bar, bucketed by block timestamp.
select
    chain,
    {{ bar_close('ts') }} as bar_time,
    count(*) as block_count,
    sum(tx_count) as tx_count,
    sum(active_addresses) as active_addresses,
    sum(gas_used) as gas_used,
    avg(base_fee_gwei) as base_fee_gwei
from {{ ref('stg_chain__blocks') }}
where true
    {{- raw_window_filter('ts') }}
group by all
