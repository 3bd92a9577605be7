with

plans as (

    select * from {{ ref('stg_ref__rtl_plans') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

unsur as (

    select * from {{ ref('int_unsur_listed') }}

),

final as (

    select
        plans.survey_year,
        plans.unit_code,
        units.unit_name,
        row_number() over (
            partition by plans.survey_year, plans.unit_code
            order by
                unsur.unsur_order asc nulls last,
                plans.unsur_code asc,
                plans.layanan_code asc nulls first,
                plans.rencana_tindak_lanjut asc
        ) as plan_number,
        plans.layanan_code,
        layanan.layanan_name,
        plans.unsur_code,
        unsur.unsur_name,
        plans.penyebab,
        plans.rencana_tindak_lanjut,
        plans.batas_waktu,
        plans.penanggung_jawab,
        plans.status,
        plans.is_realized,
        plans.realized_at

    from plans
    left join units
        on plans.unit_code = units.unit_code
    left join layanan
        on plans.layanan_code = layanan.layanan_code
    left join unsur
        on plans.unsur_code = unsur.unsur_code

)

select * from final
