{#- Fails with the label rows where, for a configured horizon h, fwd_ret_<h> is NaN or infinite, or
    fwd_dir_<h> is not 1 exactly when fwd_ret_<h> > 0 (the columns follow var horizons, so the test
    does too). -#}
{% test labels_consistent(model) %}
select *
from {{ model }}
where false
{%- for h in var('horizons') %}
    or isnan(fwd_ret_{{ h }}) or isinf(fwd_ret_{{ h }})
    or (fwd_ret_{{ h }} is null) != (fwd_dir_{{ h }} is null)
    or fwd_dir_{{ h }} != case when fwd_ret_{{ h }} > 0 then 1 else 0 end
{%- endfor %}
{% endtest %}
