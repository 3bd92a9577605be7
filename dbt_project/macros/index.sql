{#- SPEC §3: NRR = sum of the scores given / number of those answers, pooled over every
    question of the group; index = NRR / scale × 100. Used for unsur, IPAK and the
    questions outside the IKM alike. Expects columns response_key, score, scale. -#}
{% macro index_aggregates() -%}
    count(distinct response_key) as respondents,
    count(score) as answers,
    cast(sum(score) as bigint) as score_sum,
    cast(sum(score) as double) / count(score) as nrr,
    cast(sum(score) as double) / count(score) / max(scale) * 100 as ikm
{%- endmacro %}

{#- Mean with every term weighing the same (1/n, SPEC §3). fsum keeps the result
    independent of the order DuckDB's threads add the terms in. -#}
{% macro equal_weight_mean(value) -%}
    fsum({{ value }}) / count({{ value }})
{%- endmacro %}

{#- The nine unsur side by side as u1..u9 (the mart contract's column names), from rows
    with columns unsur_code and `value`, grouped by the caller. -#}
{% macro pivot_unsur_columns(value) -%}
    {%- for number in range(1, 10) %}
    max(case when unsur_code = 'U{{ number }}' then {{ value }} end) as u{{ number }}
    {{- "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro unsur_columns(relation) -%}
    {%- for number in range(1, 10) %}
    {{ relation }}.u{{ number }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
