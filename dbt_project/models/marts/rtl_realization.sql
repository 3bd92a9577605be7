with

plans as (

    select * from {{ ref('rtl_plans') }}

),

final as (

    select
        survey_year,
        unit_code,
        min(unit_name) as unit_name,
        count(*) as planned,
        count(*) filter (where is_realized) as realized,
        cast(count(*) filter (where is_realized) as double) * 100 / count(*) as pct

    from plans
    group by survey_year, unit_code

)

select * from final
