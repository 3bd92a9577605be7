{#- The model has as many rows as another relation. For a model built 1:1 from its parent
    (left joins to tables unique on the join key), this with the parent's unique key
    proves the model's key unique too, at the cost of two counts instead of a group-by
    over millions of keys. -#}
{% test row_count_equals(model, compare_model) %}
    with

    counts as (

        select
            (select count(*) from {{ model }}) as model_rows,
            (select count(*) from {{ compare_model }}) as compared_rows

    )

    select * from counts
    where model_rows != compared_rows
{% endtest %}
