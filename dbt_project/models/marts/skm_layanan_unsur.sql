with

answer_groups as (

    select * from {{ ref('int_answer_groups_summed') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

scored as (

    select
        survey_year,
        unit_code,
        layanan_code,
        group_code as unsur_code,
        min(unsur_name) as unsur_name,
        min(unsur_order) as unsur_order,
        {{ index_from_sums() }}

    from answer_groups
    where item_kind = 'unsur'
    group by survey_year, unit_code, layanan_code, group_code

),

final as (

    select
        scored.survey_year,
        scored.unit_code,
        units.unit_name,
        scored.layanan_code,
        layanan.layanan_name,
        scored.unsur_code,
        scored.unsur_name,
        scored.unsur_order,
        scored.respondents,
        scored.answers,
        scored.score_sum,
        scored.nrr,
        scored.ikm,
        {{ grade_mutu('scored.ikm') }} as mutu,
        {{ grade_kinerja('scored.ikm') }} as kinerja

    from scored
    left join units
        on scored.unit_code = units.unit_code
    left join layanan
        on scored.layanan_code = layanan.layanan_code

)

select * from final
