{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'bar_time'],
        on_schema_change='fail',
    )
}}

-- Transfers of each asset's token(s) per bar (by block timestamp): volume, whale moves (at or above the
-- token's whale threshold) and flows into and out of labelled exchange wallets.
-- net_exchange_flow = inflow - outflow; a transfer between two exchange wallets counts in both.
with transfers as (
    select *
    from {{ ref('stg_chain__token_transfers') }}
    where true
        {{- raw_window_filter('ts') }}
),

tokens as (
    select * from {{ ref('stg_chain__tokens') }}
),

exchange_wallets as (
    select chain, address
    from {{ ref('stg_chain__wallet_labels') }}
    where category = 'exchange'
),

classified as (
    select
        tk.asset,
        {{ bar_close('t.ts') }} as bar_time,
        t.amount,
        tk.whale_threshold > 0 and t.amount >= tk.whale_threshold as is_whale,
        w_in.address is not null as into_exchange,
        w_out.address is not null as out_of_exchange
    from transfers t
    join tokens tk on tk.chain = t.chain and tk.token_address = t.token_address
    left join exchange_wallets w_in on w_in.chain = t.chain and w_in.address = t.to_address
    left join exchange_wallets w_out on w_out.chain = t.chain and w_out.address = t.from_address
)

select
    asset,
    bar_time,
    count(*) as transfer_count,
    sum(amount) as transfer_volume,
    count(*) filter (where is_whale) as whale_transfer_count,
    coalesce(sum(amount) filter (where is_whale), 0) as whale_transfer_volume,
    coalesce(sum(amount) filter (where into_exchange), 0) as exchange_inflow,
    coalesce(sum(amount) filter (where out_of_exchange), 0) as exchange_outflow,
    coalesce(sum(amount) filter (where into_exchange), 0)
        - coalesce(sum(amount) filter (where out_of_exchange), 0) as net_exchange_flow
from classified
group by asset, bar_time
