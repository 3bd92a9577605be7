{#- SPEC §3: NRR = sum of the scores given / number of those answers, pooled over every
    question of the group; index = NRR / scale × 100. Used for unsur, IPAK and the
    questions outside the IKM alike, at every level of the roll-up: it reads rows that
    already hold respondents, answers and score_sum (int_answer_groups_summed), and sums
    of those are the pooled counts and sums. Expects columns respondents, answers,
    score_sum, scale. -#}
{% macro index_from_sums() -%}
    cast(sum(respondents) as bigint) as respondents,
    cast(sum(answers) as bigint) as answers,
    cast(sum(score_sum) as bigint) as score_sum,
    cast(sum(score_sum) as double) / cast(sum(answers) as bigint) as nrr,
    cast(sum(score_sum) as double) / cast(sum(answers) as bigint) / max(scale) * 100 as ikm
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

{#- Which score columns a response answered, as a number: bit n is the n-th of
    score_columns(). -#}
{% macro answered_items_mask() -%}
    (
    {%- for column in score_columns() %}
        {{ "+ " if not loop.first }}(case when {{ column }} is null then 0 else {{ 2 ** loop.index0 }} end)
    {%- endfor %}
    )
{%- endmacro %}
