{#- Fails with the rows whose value is NaN, infinite, or outside [min_value, max_value] (bounds optional). -#}
{% test finite_between(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and (
    isnan({{ column_name }}) or isinf({{ column_name }})
    {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
    {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
  )
{% endtest %}
