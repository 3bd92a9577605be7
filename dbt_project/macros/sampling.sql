{#- Validated value of var `counting` (SPEC §4). -#}
{% macro counting_rule() -%}
    {%- set rule = var('counting', 'all') -%}
    {%- if rule not in ['all', 'target_sample'] -%}
        {{ exceptions.raise_compiler_error(
            "var 'counting' must be 'all' or 'target_sample', got '" ~ rule ~ "'"
        ) }}
    {%- endif -%}
    {{ rule }}
{%- endmacro %}

{#- Krejcie & Morgan with χ² = 3.841, P = 0.5, d = 0.05 (SPEC §4):
    S = 3.841·N·0.25 / (0.0025·(N − 1) + 3.841·0.25). Multiplied through by 100 000 so
    both sides are integers and the ceiling cannot be tipped by a binary fraction. -#}
{% macro krejcie_morgan_sample(population) -%}
    case
        when {{ population }} is null then null
        when {{ population }} = 0 then 0
        else cast(ceil(
            96025.0 * {{ population }} / (250.0 * ({{ population }} - 1) + 96025.0)
        ) as bigint)
    end
{%- endmacro %}

{#- Calendar months a window touches: 1 April – 30 June is 3. -#}
{% macro months_spanned(start_date, end_date) -%}
    (
        (year({{ end_date }}) * 12 + month({{ end_date }}))
        - (year({{ start_date }}) * 12 + month({{ start_date }}))
        + 1
    )
{%- endmacro %}

{#- The score columns of raw.responses; their names are the item_code values of
    ref.questionnaire_items. -#}
{% macro score_columns() -%}
    {{ return(['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7', 'q8', 'q9', 'q10', 'q11',
               'q12', 'q13', 'q14', 'ak1', 'ak2', 'ak3', 'ak4', 'ak5']) }}
{%- endmacro %}
