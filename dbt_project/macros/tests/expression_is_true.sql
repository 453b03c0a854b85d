{#- Fails with the rows where `expression` is false (NULL counts as passing: warm-up values are NULL). -#}
{% test expression_is_true(model, expression) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), true)
{% endtest %}
