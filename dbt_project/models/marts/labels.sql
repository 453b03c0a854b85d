{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'bar_time'],
        on_schema_change='fail',
        window_to_newest=true,
        window_widen_bars=var('horizons') | max,
    )
}}

-- Forward returns of the reference close, apart from the features: the only table that looks ahead.
-- fwd_ret_<h> = log_close(bar_time + h bars) - log_close(bar_time), from the same log-mean close as
-- the ret_* features; NULL until that bar exists (or when it is missing). fwd_dir_<h> = 1 if up, else 0.
-- A new bar completes the labels of the bars up to the longest horizon before it: an incremental run
-- starts that many bars before its window (window_widen_bars) and runs to the newest bar.
with bars as (
    select asset, bar_time, log_close, {{ bar_index() }} as bar_index from {{ ref('int_bars_consolidated') }}
    where true
        {{- bar_window_filter() }}
),

ahead as (
    select
        asset,
        bar_time,
        log_close,
        {%- for h in var('horizons') %}
        first_value(log_close) over (
            partition by asset order by bar_index range between {{ h }} following and {{ h }} following
        ) as log_close_ahead_{{ h }}{{ ',' if not loop.last }}
        {%- endfor %}
    from bars
)

select
    asset,
    bar_time,
    {%- for h in var('horizons') %}
    log_close_ahead_{{ h }} - log_close as fwd_ret_{{ h }},
    cast(case
        when log_close_ahead_{{ h }} > log_close then 1
        when log_close_ahead_{{ h }} is not null then 0
    end as integer) as fwd_dir_{{ h }}{{ ',' if not loop.last }}
    {%- endfor %}
from ahead
