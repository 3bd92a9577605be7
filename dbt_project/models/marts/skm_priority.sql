with

unit_unsur as (

    select * from {{ ref('skm_unit_unsur') }}

),

layanan_unsur as (

    select * from {{ ref('skm_layanan_unsur') }}

),

candidates as (

    select
        survey_year,
        unit_code,
        unit_name,
        cast(null as varchar) as layanan_code,
        cast(null as varchar) as layanan_name,
        unsur_code,
        unsur_name,
        unsur_order,
        ikm,
        mutu
    from unit_unsur

    union all

    select
        survey_year,
        unit_code,
        unit_name,
        layanan_code,
        layanan_name,
        unsur_code,
        unsur_name,
        unsur_order,
        ikm,
        mutu
    from layanan_unsur

),

-- ties go to the earlier unsur, in both directions (SPEC §5)
ranked as (

    select
        *,
        row_number() over (
            partition by survey_year, unit_code, layanan_code
            order by ikm asc, unsur_order asc, unsur_code asc
        ) as lowest_position,
        row_number() over (
            partition by survey_year, unit_code, layanan_code
            order by ikm desc, unsur_order asc, unsur_code asc
        ) as highest_position

    from candidates

),

final as (

    select
        survey_year,
        unit_code,
        unit_name,
        layanan_code,
        layanan_name,
        'lowest' as kind,
        lowest_position as position,
        unsur_code,
        unsur_name,
        ikm,
        mutu
    from ranked
    where lowest_position <= 3

    union all

    select
        survey_year,
        unit_code,
        unit_name,
        layanan_code,
        layanan_name,
        'highest' as kind,
        highest_position as position,
        unsur_code,
        unsur_name,
        ikm,
        mutu
    from ranked
    where highest_position <= 3

)

select * from final
