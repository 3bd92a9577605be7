with

answer_groups as (

    select * from {{ ref('int_answer_groups_summed') }}
    where item_kind = 'other'

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

-- questions 12–14 are scored like an unsur but stay out of the IKM (SPEC §2)
per_layanan as (

    select
        survey_year,
        unit_code,
        layanan_code,
        group_code as item_code,
        min(question_number) as question_number,
        {{ index_from_sums() }}

    from answer_groups
    group by survey_year, unit_code, layanan_code, group_code

),

per_unit as (

    select
        survey_year,
        unit_code,
        cast(null as varchar) as layanan_code,
        group_code as item_code,
        min(question_number) as question_number,
        {{ index_from_sums() }}

    from answer_groups
    group by survey_year, unit_code, group_code

),

scored as (

    select * from per_layanan
    union all
    select * from per_unit

),

final as (

    select
        scored.survey_year,
        scored.unit_code,
        units.unit_name,
        scored.layanan_code,
        layanan.layanan_name,
        scored.item_code,
        scored.question_number,
        scored.respondents,
        scored.answers,
        scored.score_sum,
        scored.nrr,
        scored.ikm as index_value

    from scored
    left join units
        on scored.unit_code = units.unit_code
    left join layanan
        on scored.layanan_code = layanan.layanan_code

)

select * from final
