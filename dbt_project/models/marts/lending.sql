-- Lending features per chain, reserve asset and bar: the reserve's state at its last update in the
-- bar (utilisation, rates), and the bar's flows (borrows, liquidations, large borrows by labelled
-- wallets). Known at bar_time: only events with ts < bar_time.
with tokens as (
    select chain, token_address, asset, whale_threshold from {{ ref('stg_chain__tokens') }}
),

labelled as (
    select chain, address, label from {{ ref('stg_chain__wallet_labels') }}
),

states as (
    select
        r.chain,
        t.asset,
        {{ bar_close('r.ts') }} as bar_time,
        max_by(r.total_borrowed / nullif(r.total_supplied, 0), r.block_number * 1000000 + r.log_index) as utilisation,
        max_by(r.supply_rate, r.block_number * 1000000 + r.log_index) as supply_rate,
        max_by(r.variable_borrow_rate, r.block_number * 1000000 + r.log_index) as borrow_rate
    from {{ ref('stg_lending__reserves') }} as r
    join tokens as t on t.chain = r.chain and t.token_address = r.reserve
    group by all
),

flows as (
    select
        e.chain,
        t.asset,
        {{ bar_close('e.ts') }} as bar_time,
        sum(case when e.event = 'borrow' then e.amount else 0 end) as borrow_volume,
        sum(case when e.event = 'liquidation' then e.amount else 0 end) as liquidation_volume,
        count(*) filter (where e.event = 'liquidation') as liquidations,
        sum(case when e.event = 'borrow' and l.address is not null and e.amount >= t.whale_threshold
                 then e.amount else 0 end) as labelled_large_borrow_volume
    from {{ ref('stg_lending__events') }} as e
    join tokens as t on t.chain = e.chain and t.token_address = e.reserve
    left join labelled as l on l.chain = e.chain and l.address = e.borrower_or_supplier
    group by all
)

select
    coalesce(s.chain, f.chain) as chain,
    coalesce(s.asset, f.asset) as asset,
    coalesce(s.bar_time, f.bar_time) as bar_time,
    s.utilisation,
    s.supply_rate,
    s.borrow_rate,
    coalesce(f.borrow_volume, 0) as borrow_volume,
    coalesce(f.liquidation_volume, 0) as liquidation_volume,
    coalesce(f.liquidations, 0) as liquidations,
    coalesce(f.labelled_large_borrow_volume, 0) as labelled_large_borrow_volume
from states as s
full join flows as f on f.chain = s.chain and f.asset = s.asset and f.bar_time = s.bar_time
