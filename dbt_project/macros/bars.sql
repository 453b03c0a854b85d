{#- Bar arithmetic. Bars are half-open windows [bar_time - bar, bar_time) of raw time; a bar is stamped
    with its close, the moment everything in it is known. -#}

{% macro interval_seconds(text) -%}
    {%- set units = {'m': 60, 'h': 3600, 'd': 86400} -%}
    {%- if text[-1] not in units or not text[:-1].isdigit() -%}
        {{ exceptions.raise_compiler_error("bar/timeframe '" ~ text ~ "' is not accepted: expected <n>m, <n>h or <n>d, e.g. 1h") }}
    {%- endif -%}
    {{- return(text[:-1] | int * units[text[-1]]) -}}
{%- endmacro %}

{% macro bar_seconds() -%}
    {{- return(interval_seconds(var('bar'))) -}}
{%- endmacro %}

{#- The close of the bar holding `ts`: exact integer microsecond arithmetic on naive UTC. -#}
{% macro bar_close(ts) -%}
    make_timestamp((epoch_us({{ ts }}) // {{ bar_seconds() * 1000000 }} + 1) * {{ bar_seconds() * 1000000 }})
{%- endmacro %}

{#- The position of a bar in its asset's series, for RANGE frames of "k bars back" and labels "h bars
    ahead": time in bars for a 24/7 asset (a missing bar shortens a window), and the count of TRADING
    bars for an asset whose market closes (var session_assets: symbol -> {weekly: the week's closed
    bar slots [first, last] from Monday 00:00, dates: the closed dates' slots [first slot start in
    µs, count]}, from kimera.sessions): Friday's last bar and Monday's first are one bar apart, so are
    the bars either side of a holiday; a bar missing on an open day is still missing. The same
    arithmetic as kimera.sessions.trading_bar_index (the models count windows with it).
    Needs `asset` and `bar_time` columns. -#}
{% macro bar_index() -%}
    {%- set bar_us = bar_seconds() * 1000000 -%}
    {%- set week_us = 7 * 86400 * 1000000 -%}
    {%- set monday_us = 4 * 86400 * 1000000 -%}
    {%- set sessions = var('session_assets', none) -%}
    {%- if sessions -%}
    case
        {%- for asset, calendar in sessions.items() %}
        {%- set closed = namespace(n=0) -%}
        {%- for s in calendar['weekly'] %}{% set closed.n = closed.n + s[1] - s[0] + 1 %}{% endfor %}
        {%- set start = "(epoch_us(bar_time) - " ~ (bar_us + monday_us) ~ ")" %}
        {%- set pos = "((" ~ start ~ " % " ~ week_us ~ ") // " ~ bar_us ~ ")" %}
        when asset = '{{ asset }}' then ({{ start }} // {{ week_us }}) * {{ week_us // bar_us - closed.n }} + {{ pos }} + 1
            {%- for s in calendar['weekly'] %} - greatest(least({{ pos }}, {{ s[1] }}) - {{ s[0] }} + 1, 0){% endfor %}
            {%- if calendar['dates'] %}
            - list_sum(list_transform({{ calendar['dates'] | tojson }},
                lambda d: greatest(least((epoch_us(bar_time) - {{ bar_us }} - d[1]) // {{ bar_us }} + 1, d[2]), 0)))::bigint
            {%- endif %}
        {%- endfor %}
        else epoch_us(bar_time) // {{ bar_us }} end
    {%- else -%}
    epoch_us(bar_time) // {{ bar_us }}
    {%- endif %}
{%- endmacro %}

{#- `n` bars as a SQL interval (for RANGE frames over bar_time). -#}
{% macro bars_interval(n) -%}
    interval '{{ n * bar_seconds() }} seconds'
{%- endmacro %}

{#- `and symbol in (...)` when the config lists the traded pairs (var symbols); nothing otherwise. -#}
{% macro symbol_filter(column='symbol') -%}
    {%- if var('symbols', none) %}
    and {{ column }} in ({% for s in var('symbols') %}'{{ s }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- endif -%}
{%- endmacro %}
