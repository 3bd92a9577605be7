{#- A view for analysts and the unit test: the marts sum int_answer_groups_summed instead
    of these rows (one per answer, 19 per response). -#}
{{ config(materialized='view') }}

with

responses as (

    select * from {{ ref('int_responses_counted') }}

),

items as (

    select * from {{ ref('stg_ref__questionnaire_items') }}

),

counted_scores as (

    select
        response_key,
        survey_year,
        unit_code,
        layanan_code,
        {{ score_columns() | join(',\n        ') }}

    from responses
    where is_counted

),

-- UNPIVOT leaves out blank answers: they are not answers (SPEC §3 denominators)
long_scores as (

    unpivot counted_scores
    on {{ score_columns() | join(', ') }}
    into name item_code value score

),

final as (

    select
        long_scores.response_key,
        long_scores.survey_year,
        long_scores.unit_code,
        long_scores.layanan_code,
        long_scores.item_code,
        items.item_kind,
        items.question_number,
        items.unsur_code,
        items.unsur_name,
        items.unsur_order,
        items.scale,
        cast(long_scores.score as integer) as score

    from long_scores
    inner join items
        on long_scores.item_code = items.item_code

)

select * from final
