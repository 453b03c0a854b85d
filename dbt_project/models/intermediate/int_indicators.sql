{{
    config(
        materialized='incremental',
        incremental_strategy='replace_window',
        unique_key=['asset', 'bar_time'],
        on_schema_change='fail',
        window_to_newest=true,
    )
}}

-- Technical indicators of the reference bars, with TA-Lib's exact conventions (tests/dbt cross-checks
-- them to 1e-9): Wilder smoothing (RSI, ATR) and EMAs (MACD) are seeded with the simple mean of their
-- first period, MACD's fast EMA is seeded at the slow EMA's first value, and the signal EMA is seeded
-- with the mean of the first `macd_signal` MACD values. Every value is NULL during its warm-up,
-- exactly where TA-Lib returns NaN.
--
-- The recursions run as one recursive CTE over the bar index i, carrying each smoother's state; during
-- warm-up a state holds the running sum that becomes its seed. Sums and updates are written in
-- TA-Lib's order of operations so the floating-point results agree.
--
-- Each row keeps the recursion's state (bar_index and the state_* columns), so an incremental run
-- resumes from the last stored bar before its window instead of recursing over all history: the
-- same operations on the same values, so the same doubles as a full build. A change at a bar changes
-- every later bar, so the window runs to the newest bar (window_to_newest).
{%- set n_rsi = var('rsi_period') | int %}
{%- set n_atr = var('atr_period') | int %}
{%- set n_fast = var('macd_fast') | int %}
{%- set n_slow = var('macd_slow') | int %}
{%- set n_sig = var('macd_signal') | int %}
{%- set n_bb = var('bb_period') | int %}
{%- if n_fast >= n_slow %}
    {{ exceptions.raise_compiler_error("macd_fast (" ~ n_fast ~ ") must be shorter than macd_slow (" ~ n_slow ~ ")") }}
{%- endif %}
{%- set k_fast = "(cast(2 as double) / " ~ (n_fast + 1) ~ ")" %}
{%- set k_slow = "(cast(2 as double) / " ~ (n_slow + 1) ~ ")" %}
{%- set k_sig = "(cast(2 as double) / " ~ (n_sig + 1) ~ ")" %}
{%- set seed_macd = n_slow - 1 %}
{%- set seed_signal = n_slow + n_sig - 2 %}
{#- The EMAs' next state, used in three columns of the recursive step. #}
{%- set ema_slow -%}
case
                when x.i < {{ seed_macd }} then s.ema_slow + x.close
                when x.i = {{ seed_macd }} then (s.ema_slow + x.close) / {{ n_slow }}
                else ((x.close - s.ema_slow) * {{ k_slow }}) + s.ema_slow
            end
{%- endset %}
{%- set ema_fast -%}
case
                when x.i < {{ n_slow - n_fast }} then cast(0 as double)
                when x.i < {{ seed_macd }} then s.ema_fast + x.close
                when x.i = {{ seed_macd }} then (s.ema_fast + x.close) / {{ n_fast }}
                else ((x.close - s.ema_fast) * {{ k_fast }}) + s.ema_fast
            end
{%- endset %}

{%- set resume = incremental_window() is not none %}

with recursive
{%- if resume %}
-- The last stored row of each asset before the window: the recursion goes on from its state.
resumed as (
    select *
    from {{ this }}
    where bar_time <= timestamp '{{ incremental_window().start }}'
    qualify row_number() over (partition by asset order by bar_time desc) = 1
),
{%- endif %}

bars as (
    select
        b.asset,
        b.bar_time,
        b.high,
        b.low,
        b.close,
        {%- if resume %}
        coalesce(r.bar_index + 1, 0) + row_number() over (partition by b.asset order by b.bar_time) - 1 as i,
        r.close as resumed_close
        {%- else %}
        row_number() over (partition by b.asset order by b.bar_time) - 1 as i,
        cast(null as double) as resumed_close
        {%- endif %}
    from {{ ref('int_bars_consolidated') }} b
    {%- if resume %}
    left join resumed r using (asset)
    {%- endif %}
    where true
        {{- bar_window_filter('b.bar_time') }}
),

steps as (
    select
        *,
        close - coalesce(lag(close) over by_bar, resumed_close) as change,
        greatest(
            high - low,
            abs(coalesce(lag(close) over by_bar, resumed_close) - high),
            abs(coalesce(lag(close) over by_bar, resumed_close) - low)
        ) as true_range
    from bars
    window by_bar as (partition by asset order by i)
),

inputs as (
    select
        *,
        case when change >= 0 then change else cast(0 as double) end as gain,
        case when change < 0 then -change else cast(0 as double) end as loss
    from steps
),

-- Where each asset's recursion starts: its first bar ever, or the state of the last bar before the window.
anchors as (
    select
        asset,
        i,
        cast(0 as double) as avg_gain,
        cast(0 as double) as avg_loss,
        cast(0 as double) as atr,
        close as ema_slow,
        cast(0 as double) as ema_fast,
        cast(null as double) as macd,
        cast(null as double) as macd_signal
    from inputs
    where i = 0
    {%- if resume %}

    union all

    select
        asset,
        bar_index,
        state_avg_gain,
        state_avg_loss,
        state_atr,
        state_ema_slow,
        state_ema_fast,
        cast(null as double),
        state_macd_signal
    from resumed
    {%- endif %}
),

smoothed as (
    select * from anchors

    union all

    select
        s.asset,
        x.i,
        case
            when x.i < {{ n_rsi }} then s.avg_gain + x.gain
            when x.i = {{ n_rsi }} then (s.avg_gain + x.gain) / {{ n_rsi }}
            else ((s.avg_gain * {{ n_rsi - 1 }}) + x.gain) / {{ n_rsi }}
        end,
        case
            when x.i < {{ n_rsi }} then s.avg_loss + x.loss
            when x.i = {{ n_rsi }} then (s.avg_loss + x.loss) / {{ n_rsi }}
            else ((s.avg_loss * {{ n_rsi - 1 }}) + x.loss) / {{ n_rsi }}
        end,
        case
            when x.i < {{ n_atr }} then s.atr + x.true_range
            when x.i = {{ n_atr }} then (s.atr + x.true_range) / {{ n_atr }}
            else ((s.atr * {{ n_atr - 1 }}) + x.true_range) / {{ n_atr }}
        end,
        {{ ema_slow }},
        {{ ema_fast }},
        case when x.i >= {{ seed_macd }} then ({{ ema_fast }}) - ({{ ema_slow }}) end,
        case
            when x.i < {{ seed_macd }} then null
            when x.i < {{ seed_signal }} then coalesce(s.macd_signal, 0) + (({{ ema_fast }}) - ({{ ema_slow }}))
            when x.i = {{ seed_signal }} then (coalesce(s.macd_signal, 0) + (({{ ema_fast }}) - ({{ ema_slow }}))) / {{ n_sig }}
            else (((({{ ema_fast }}) - ({{ ema_slow }})) - s.macd_signal) * {{ k_sig }}) + s.macd_signal
        end
    from smoothed s
    join inputs x on x.asset = s.asset and x.i = s.i + 1
),

-- Bollinger's window reaches back over the last bb_period - 1 bars before the incremental window.
closes as (
    select asset, i, close from inputs
    {%- if resume %}
    union all
    select asset, bar_index, close
    from {{ this }}
    where bar_time <= timestamp '{{ incremental_window().start }}'
    qualify row_number() over (partition by asset order by bar_time desc) < {{ n_bb }}
    {%- endif %}
),

bands as (
    select
        asset,
        i,
        avg(close) over last_bb as bb_middle,
        stddev_pop(close) over last_bb as bb_stddev
    from closes
    window last_bb as (partition by asset order by i rows between {{ n_bb - 1 }} preceding and current row)
)

select
    x.asset,
    x.bar_time,
    x.close,
    case
        when x.i < {{ n_rsi }} then null
        when abs(s.avg_gain + s.avg_loss) < 1e-8 then cast(0 as double)
        else 100 * (s.avg_gain / (s.avg_gain + s.avg_loss))
    end as rsi,
    case when x.i >= {{ seed_signal }} then s.macd end as macd,
    case when x.i >= {{ seed_signal }} then s.macd_signal end as macd_signal,
    case when x.i >= {{ seed_signal }} then s.macd - s.macd_signal end as macd_hist,
    case when x.i >= {{ n_atr }} then s.atr end as atr,
    case when x.i >= {{ n_bb - 1 }} then b.bb_middle + {{ var('bb_k') }} * b.bb_stddev end as bb_upper,
    case when x.i >= {{ n_bb - 1 }} then b.bb_middle end as bb_middle,
    case when x.i >= {{ n_bb - 1 }} then b.bb_middle - {{ var('bb_k') }} * b.bb_stddev end as bb_lower,
    -- the recursion's state after this bar, where an incremental run resumes
    x.i as bar_index,
    s.avg_gain as state_avg_gain,
    s.avg_loss as state_avg_loss,
    s.atr as state_atr,
    s.ema_slow as state_ema_slow,
    s.ema_fast as state_ema_fast,
    s.macd_signal as state_macd_signal
from inputs x
join smoothed s using (asset, i)
join bands b using (asset, i)
