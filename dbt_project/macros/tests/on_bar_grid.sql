{#- Fails with the rows whose timestamp is not a bar close (a multiple of the bar since the epoch). -#}
{% test on_bar_grid(model, column_name) %}
select *
from {{ model }}
where epoch_us({{ column_name }}) % {{ bar_seconds() * 1000000 }} != 0
{% endtest %}
