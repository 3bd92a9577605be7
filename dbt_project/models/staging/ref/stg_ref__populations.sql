with

source_populations as (

    select * from {{ source('ref', 'populations') }}

),

final as (

    select
        survey_year,
        trim(unit_code) as unit_code,
        trim(layanan_code) as layanan_code,
        populasi

    from source_populations

)

select * from final
