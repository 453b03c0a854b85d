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
