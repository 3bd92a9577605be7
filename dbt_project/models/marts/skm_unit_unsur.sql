with

answer_groups as (

    select * from {{ ref('int_answer_groups_summed') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

-- the unit pools every counted answer of all its layanan (not the mean of layanan)
scored as (

    select
        survey_year,
        unit_code,
        group_code as unsur_code,
        min(unsur_name) as unsur_name,
        min(unsur_order) as unsur_order,
        {{ index_from_sums() }}

    from answer_groups
    where item_kind = 'unsur'
    group by survey_year, unit_code, group_code

),

final as (

    select
        scored.survey_year,
        scored.unit_code,
        units.unit_name,
        scored.unsur_code,
        scored.unsur_name,
        scored.unsur_order,
        scored.respondents,
        scored.answers,
        scored.score_sum,
        scored.nrr,
        scored.ikm,
        {{ grade_mutu('scored.ikm') }} as mutu,
        {{ grade_kinerja('scored.ikm') }} as kinerja,
        row_number() over (
            partition by scored.survey_year, scored.unit_code
            order by scored.ikm asc, scored.unsur_order asc, scored.unsur_code asc
        ) as rank_lowest

    from scored
    left join units
        on scored.unit_code = units.unit_code

)

select * from final
