{#- SPEC §3 inputs per answer group: an unsur (its questions pooled), the anti-corruption
    block (IPAK), or one question outside the IKM (12–14). Counts and sums add up across
    layanan and units, so every level of the marts sums these rows. -#}
with

aggregated as (

    select * from {{ ref('int_responses_aggregated') }}
    where is_counted

),

items as (

    select * from {{ ref('stg_ref__questionnaire_items') }}

),

-- UNPIVOT leaves out null sums: items no response of the group answered (blank answers
-- are not answers, SPEC §3 denominators)
item_sums as (

    unpivot aggregated
    on {{ score_columns() | join(', ') }}
    into name item_code value score_sum

),

answered as (

    select
        item_sums.survey_year,
        item_sums.unit_code,
        item_sums.layanan_code,
        item_sums.answered_items_mask,
        item_sums.responses,
        items.item_kind,
        case items.item_kind
            when 'unsur' then items.unsur_code
            when 'ipak' then 'IPAK'
            else items.item_code
        end as group_code,
        items.unsur_name,
        items.unsur_order,
        items.question_number,
        items.scale,
        item_sums.score_sum

    from item_sums
    inner join items
        on item_sums.item_code = items.item_code

),

-- every response of an answer pattern answered each of its items once, so the
-- pattern's responses are the group's respondents and each item adds them as answers
per_pattern as (

    select
        survey_year,
        unit_code,
        layanan_code,
        answered_items_mask,
        item_kind,
        group_code,
        min(unsur_name) as unsur_name,
        min(unsur_order) as unsur_order,
        min(question_number) as question_number,
        max(scale) as scale,
        max(responses) as respondents,
        sum(responses) as answers,
        sum(score_sum) as score_sum

    from answered
    group by
        survey_year,
        unit_code,
        layanan_code,
        answered_items_mask,
        item_kind,
        group_code

),

final as (

    select
        survey_year,
        unit_code,
        layanan_code,
        item_kind,
        group_code,
        min(unsur_name) as unsur_name,
        min(unsur_order) as unsur_order,
        min(question_number) as question_number,
        max(scale) as scale,
        cast(sum(respondents) as bigint) as respondents,
        cast(sum(answers) as bigint) as answers,
        cast(sum(score_sum) as bigint) as score_sum

    from per_pattern
    group by
        survey_year,
        unit_code,
        layanan_code,
        item_kind,
        group_code

)

select * from final
