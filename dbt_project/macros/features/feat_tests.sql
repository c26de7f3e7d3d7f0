{#- Generic tests of the feature marts. -#}

{% test feat_unique_columns(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test feat_between(model, column_name, min_value, max_value) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}

{#- Within a race, the normalised implied probabilities sum to 1 (overround removed). -#}
{% test feat_implied_prob_sums_to_one(model) %}
select race_id, sum(mkt_implied_prob) as total
from {{ model }}
where mkt_implied_prob is not null
group by race_id
having abs(sum(mkt_implied_prob) - 1) > 1e-9
{% endtest %}
