{#- The listed columns together identify a row; nulls compare equal (a null layanan is
    "the whole unit", one row per unit). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns_csv = combination_of_columns | join(', ') %}
    select
        {{ columns_csv }},
        count(*) as rows_with_this_key
    from {{ model }}
    group by {{ columns_csv }}
    having count(*) > 1
{% endtest %}
