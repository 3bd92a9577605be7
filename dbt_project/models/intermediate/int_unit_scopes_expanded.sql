with

units as (

    select * from {{ ref('int_units_resolved') }}

),

final as (

    select
        unit_code,
        'bpom' as scope_type,
        'BPOM' as scope
    from units

    union all

    select
        unit_code,
        'unit_type' as scope_type,
        unit_type as scope
    from units

    union all

    select
        unit_code,
        'province' as scope_type,
        province as scope
    from units
    where province is not null

)

select * from final
