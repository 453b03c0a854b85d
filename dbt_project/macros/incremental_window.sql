{#- The window an incremental run rebuilds.

    Raw rows with time in [start, end) are re-aggregated and the bars with bar_time in (start, end] are
    replaced; `end` is none for "up to the newest raw data". With vars window_start/window_end (the
    Dagster partition range) the window is that range widened to whole bars plus `lookback_bars` before
    it, for late data. Without them it starts `lookback_bars` before the newest stored bar.
    Full refreshes and first runs have no window (everything is built).

    Two model configs adapt it to models computed from bars rather than raw rows:
    - `window_to_newest: true`: a bar's value depends on every earlier bar (recursive smoothing,
      trailing windows), so a change inside the window changes every later bar: the window has no end.
    - `window_widen_bars: n`: a bar's value depends on the n bars after it (forward returns), so the
      window starts n bars earlier.
    The window vars are read only while running (`execute`), never while parsing: a new window does
    not invalidate dbt's partial parse. -#}
{% macro incremental_window(time_column='bar_time') -%}
    {%- if not is_incremental() or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set dt = modules.datetime -%}
    {%- set bar = bar_seconds() -%}
    {%- set lookback = var('lookback_bars') | int -%}
    {%- set epoch = dt.datetime(1970, 1, 1) -%}
    {%- if var('window_start') is not none -%}
        {%- set ws = dt.datetime.fromisoformat(var('window_start') | string).replace(tzinfo=none) -%}
        {%- set we = dt.datetime.fromisoformat(var('window_end') | string).replace(tzinfo=none) if var('window_end') is not none else none -%}
        {%- if we is not none and we <= ws -%}
            {{ exceptions.raise_compiler_error("window_end " ~ we ~ " must be after window_start " ~ ws) }}
        {%- endif -%}
    {%- else -%}
        {%- set newest = run_query("select max(" ~ time_column ~ ") from " ~ this).columns[0].values()[0] -%}
        {%- if newest is none -%}
            {{ return(none) }}
        {%- endif -%}
        {%- set ws = newest - dt.timedelta(seconds=bar) -%}
        {%- set we = none -%}
    {%- endif -%}
    {%- set floor_s = ((ws - epoch).total_seconds() // bar) * bar -%}
    {%- set widen = config.get('window_widen_bars', 0) | int -%}
    {%- set start = epoch + dt.timedelta(seconds=floor_s - (lookback + widen) * bar) -%}
    {%- if config.get('window_to_newest', false) -%}
        {%- set we = none -%}
    {%- endif -%}
    {%- if we is not none -%}
        {%- set ceil_s = -((-(we - epoch).total_seconds()) // bar) * bar -%}
        {%- set end = epoch + dt.timedelta(seconds=ceil_s) -%}
    {%- else -%}
        {%- set end = none -%}
    {%- endif -%}
    {{ return({'start': start.isoformat(sep=' '), 'end': end.isoformat(sep=' ') if end is not none else none}) }}
{%- endmacro %}

{#- `and <raw time column> in [start, end)` of the incremental window; nothing on full builds. -#}
{% macro raw_window_filter(column) -%}
    {%- set w = incremental_window() -%}
    {%- if w is not none %}
    and {{ column }} >= timestamp '{{ w.start }}'
    {%- if w.end is not none %} and {{ column }} < timestamp '{{ w.end }}'{% endif %}
    {%- endif -%}
{%- endmacro %}

{#- The incremental window's start moved `bars` bars earlier, as text for `timestamp '...'`: the
    earliest bar a window computation needs for its trailing windows. None on full builds. -#}
{% macro window_context_start(bars) -%}
    {%- set w = incremental_window() -%}
    {%- if w is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set dt = modules.datetime -%}
    {#- markets that close (session_assets) count trading bars: `bars` of them span at most twice as
        much time plus a closed weekend and holidays (a week) -#}
    {%- set sessions = var('session_assets', none) -%}
    {%- set reach = (bars | int) * (2 if sessions else 1) * bar_seconds() + (7 * 86400 if sessions else 0) -%}
    {%- set start = dt.datetime.fromisoformat(w.start) - dt.timedelta(seconds=reach) -%}
    {{ return(start.isoformat(sep=' ')) }}
{%- endmacro %}

{#- `and bar_time in (start, end]` of the incremental window; nothing on full builds. -#}
{% macro bar_window_filter(column='bar_time') -%}
    {%- set w = incremental_window() -%}
    {%- if w is not none %}
    and {{ column }} > timestamp '{{ w.start }}'
    {%- if w.end is not none %} and {{ column }} <= timestamp '{{ w.end }}'{% endif %}
    {%- endif -%}
{%- endmacro %}

{#- Custom incremental strategy: delete the window's bars from the target and insert the rebuilt ones,
    in dbt's transaction. Unlike delete+insert it also removes bars that vanished from raw, so an
    incremental run always equals a full refresh over the window. -#}
{% macro get_incremental_replace_window_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set cols = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set column = config.get('window_column', 'bar_time') -%}
    delete from {{ target }} where true {{ bar_window_filter(column) }};
    insert into {{ target }} ({{ cols }}) select {{ cols }} from {{ source }}
{%- endmacro %}
