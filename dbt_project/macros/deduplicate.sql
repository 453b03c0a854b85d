{#- Keep one row per natural key: a row delivered twice (a retried fetch, a re-imported dump) counts once.

    Raw tables written through pipelines.warehouse have the key as primary key, so duplicates only come
    from tables loaded by other means. `time_column`, when the key lacks it, joins the partition so that
    an incremental run's time filter reaches the raw scan; a key repeated with a different time is
    conflicting data, not a re-delivery, and the blocking raw checks (unique key) refuse it before any
    model is built. The tie-break keeps the choice deterministic. -#}
{% macro deduplicate(key, order_by, time_column=none) -%}
    {%- set partition = key + ([time_column] if time_column is not none and time_column not in key else []) -%}
    qualify row_number() over (partition by {{ partition | join(', ') }} order by {{ order_by }}) = 1
{%- endmacro %}
