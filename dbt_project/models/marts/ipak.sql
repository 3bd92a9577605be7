with

answer_groups as (

    select * from {{ ref('int_answer_groups_summed') }}
    where item_kind = 'ipak'

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

-- AK1–AK5 pooled as one five-question "unsur" (SPEC §5)
per_layanan as (

    select
        survey_year,
        unit_code,
        layanan_code,
        {{ index_from_sums() }}

    from answer_groups
    group by survey_year, unit_code, layanan_code

),

per_unit as (

    select
        survey_year,
        unit_code,
        cast(null as varchar) as layanan_code,
        {{ index_from_sums() }}

    from answer_groups
    group by survey_year, unit_code

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
