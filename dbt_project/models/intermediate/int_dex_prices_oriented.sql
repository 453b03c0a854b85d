{{ config(materialized='view') }}

-- Every swap as a price of the asset in its quote (USD): pools store token1 per token0, so a pool
-- whose token1 is the asset (USDC/WETH) is inverted. Pools where neither or both sides are a quote
-- asset (e.g. WBTC/WETH) carry no USD price and are left out.
with swaps as (
    select * from {{ ref('stg_dex__swaps') }}
),

tokens as (
    select
        *,
        asset in ({% for q in var('dex_quote_assets') %}'{{ q }}'{{ ', ' if not loop.last }}{% endfor %}) as is_quote
    from {{ ref('stg_chain__tokens') }}
),

pools as (
    select
        p.chain,
        p.dex,
        p.pool,
        t0.asset as asset0,
        t1.asset as asset1,
        t0.is_quote as is_quote0,
        t1.is_quote as is_quote1
    from {{ ref('stg_dex__pools') }} p
    join tokens t0 on t0.chain = p.chain and t0.token_address = p.token0_address
    join tokens t1 on t1.chain = p.chain and t1.token_address = p.token1_address
    where t0.is_quote != t1.is_quote
)

select
    s.chain,
    s.dex,
    s.pool,
    s.block_number,
    s.log_index,
    s.ts,
    case when p.is_quote1 then p.asset0 else p.asset1 end as asset,
    case when p.is_quote1 then p.asset1 else p.asset0 end as quote_asset,
    case when p.is_quote1 then s.price else 1 / s.price end as price,
    abs(case when p.is_quote1 then s.amount0 else s.amount1 end) as asset_amount
from swaps s
join pools p using (chain, dex, pool)
where s.price > 0
