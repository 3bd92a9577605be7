with

unit_unsur as (

    select * from {{ ref('skm_unit_unsur') }}

),

with_previous as (

    select
        unit_code,
        unit_name,
        unsur_code,
        unsur_name,
        unsur_order,
        survey_year,
        ikm,
        mutu,
        lag(survey_year) over (
            partition by unit_code, unsur_code order by survey_year
        ) as previous_year,
        lag(ikm) over (partition by unit_code, unsur_code order by survey_year) as previous_ikm,
        lag(mutu) over (partition by unit_code, unsur_code order by survey_year) as previous_mutu

    from unit_unsur

),

final as (

    select
        *,
        {{ trend_delta('ikm', 'previous_ikm') }} as delta,
        {{ trend_direction(trend_delta('ikm', 'previous_ikm')) }} as direction

    from with_previous

)

select * from final
