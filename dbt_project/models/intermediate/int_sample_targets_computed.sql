with

responses as (

    select * from {{ ref('stg_raw__responses') }}

),

populations as (

    select * from {{ ref('stg_ref__populations') }}

),

windows as (

    select * from {{ ref('stg_ref__survey_windows') }}

),

combinations as (

    select
        survey_year,
        unit_code,
        layanan_code
    from responses

    union

    select
        survey_year,
        unit_code,
        layanan_code
    from populations

),

with_population as (

    select
        combinations.survey_year,
        combinations.unit_code,
        combinations.layanan_code,
        populations.populasi,
        populations.populasi is not null as has_population,
        coalesce(windows.window_months, 12) as window_months

    from combinations
    left join populations
        on
            combinations.survey_year = populations.survey_year
            and combinations.unit_code = populations.unit_code
            and combinations.layanan_code = populations.layanan_code
    left join windows
        on combinations.survey_year = windows.survey_year

),

with_window_population as (

    select
        *,
        -- populasi is a year's recipients; the window sees its share of the months
        cast(ceil(populasi * window_months / 12.0) as bigint) as population_window

    from with_population

),

final as (

    select
        *,
        {{ krejcie_morgan_sample('population_window') }} as target_sample

    from with_window_population

)

select * from final
