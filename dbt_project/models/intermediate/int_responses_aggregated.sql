{#- Everything the index marts need from responses is a count or a sum per survey year,
    unit and layanan, so one pass here turns millions of response rows into a few
    thousand, and no mart reads response rows again. Responses are grouped by which
    items they answered (bit n of answered_items_mask is the n-th of score_columns()):
    every response of a group answered the same items, so an item's answers in a group
    are the group's responses. -#}
with

responses as (

    select * from {{ ref('int_responses_counted') }}

),

final as (

    select
        survey_year,
        unit_code,
        layanan_code,
        is_in_window,
        is_counted,
        {{ answered_items_mask() }} as answered_items_mask,
        {% for column in score_columns() %}
        cast(sum({{ column }}) as bigint) as {{ column }},
        {% endfor %}
        count(*) as responses

    from responses
    group by
        survey_year,
        unit_code,
        layanan_code,
        is_in_window,
        is_counted,
        answered_items_mask

)

select * from final
