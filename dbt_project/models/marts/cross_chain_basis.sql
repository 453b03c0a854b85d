-- The same asset priced by DEX pools on two chains: per asset, bar and ordered pair of chains, the log
-- gap between each chain's last swap price in the bar (by block and log index), in bps. Positive:
-- the asset is dearer on other_chain. Only bars where both chains traded; only swaps before bar_time.
with last_price as (
    select
        chain,
        asset,
        {{ bar_close('ts') }} as bar_time,
        max_by(ln(price), block_number * 1000000 + log_index) as log_price
    from {{ ref('int_dex_prices_oriented') }}
    group by all
)

select
    a.asset,
    a.bar_time,
    a.chain,
    b.chain as other_chain,
    (b.log_price - a.log_price) * 1e4 as basis_bps
from last_price as a
join last_price as b on b.asset = a.asset and b.bar_time = a.bar_time and b.chain != a.chain
