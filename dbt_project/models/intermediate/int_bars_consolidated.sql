{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'bar_time'],
        on_schema_change='fail',
    )
}}

-- One bar per asset across venues. The reference price is the mean of the venues' log prices (a
-- geometric mean): ret_* features and the labels both use this log_close, so they agree exactly.
with venue_bars as (
    select * from {{ ref('int_venue_bars_resampled') }}
    where true
        {{- bar_window_filter() }}
),

consolidated as (
    select
        asset,
        bar_time,
        count(*) as venue_count,
        avg(ln(open)) as log_open,
        avg(ln(high)) as log_high,
        avg(ln(low)) as log_low,
        avg(ln(close)) as log_close,
        case when count(*) > 1 then stddev_pop(ln(close)) end as log_close_dispersion,
        sum(volume) as volume,
        avg(realized_variance) as realized_variance
    from venue_bars
    group by asset, bar_time
)

select
    asset,
    bar_time,
    venue_count,
    log_close,
    exp(log_open) as open,
    exp(log_high) as high,
    exp(log_low) as low,
    exp(log_close) as close,
    volume,
    realized_variance,
    log_close_dispersion
from consolidated
