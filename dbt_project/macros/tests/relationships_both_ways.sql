{#- Fails with the keys present in one of the two models and not the other. -#}
{% test relationships_both_ways(model, to, columns) %}
{%- set cols = columns | join(', ') %}
(select {{ cols }}, 'missing from {{ to.identifier }}' as problem from {{ model }}
 except select {{ cols }}, 'missing from {{ to.identifier }}' from {{ to }})
union all
(select {{ cols }}, 'missing from {{ model.identifier }}' from {{ to }}
 except select {{ cols }}, 'missing from {{ model.identifier }}' from {{ model }})
{% endtest %}
