{#- Tests on raw tables say `where: "__raw_window__(<time column>)"`: a partition run tests its own rows
    (vars window_start/window_end, widened by lookback_bars), a full run every row. dbt's generic-test
    config cannot call macros, so the placeholder is expanded here, the documented way. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set match = modules.re.search('__raw_window__\\((\\w+)\\)', where) -%}
        {%- if match -%}
            {%- set where = where.replace(match.group(0), raw_test_window(match.group(1))) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro raw_test_window(column) -%}
    {%- if var('window_start') is none -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set dt = modules.datetime -%}
    {%- set bar = bar_seconds() -%}
    {%- set epoch = dt.datetime(1970, 1, 1) -%}
    {%- set ws = dt.datetime.fromisoformat(var('window_start') | string).replace(tzinfo=none) -%}
    {%- set start = epoch + dt.timedelta(seconds=((ws - epoch).total_seconds() // bar) * bar - (var('lookback_bars') | int) * bar) -%}
    {%- set clause = column ~ " >= timestamp '" ~ start.isoformat(sep=' ') ~ "'" -%}
    {%- if var('window_end') is not none -%}
        {%- set we = dt.datetime.fromisoformat(var('window_end') | string).replace(tzinfo=none) -%}
        {%- set clause = clause ~ " and " ~ column ~ " < timestamp '" ~ we.isoformat(sep=' ') ~ "'" -%}
    {%- endif -%}
    {{- return(clause) -}}
{%- endmacro %}
