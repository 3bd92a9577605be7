with

source_units as (

    select * from {{ source('ref', 'units') }}

),

final as (

    select
        trim(unit_code) as unit_code,
        trim(unit_name) as unit_name,
        trim(unit_type) as unit_type,
        nullif(trim(province), '') as province

    from source_units

)

select * from final
