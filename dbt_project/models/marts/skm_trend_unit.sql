with

unit_scores as (

    select * from {{ ref('skm_unit') }}

),

-- only years with a survey; a year without one is a gap, never a zero (SPEC §5)
surveyed as (

    select
        survey_year,
        unit_code,
        unit_name,
        ikm,
        mutu

    from unit_scores
    where ikm is not null

),

with_previous as (

    select
        *,
        lag(survey_year) over (partition by unit_code order by survey_year) as previous_year,
        lag(ikm) over (partition by unit_code order by survey_year) as previous_ikm,
        lag(mutu) over (partition by unit_code order by survey_year) as previous_mutu

    from surveyed

),

final as (

    select
        unit_code,
        unit_name,
        survey_year,
        ikm,
        mutu,
        previous_year,
        previous_ikm,
        previous_mutu,
        {{ trend_delta('ikm', 'previous_ikm') }} as delta,
        {{ trend_direction(trend_delta('ikm', 'previous_ikm')) }} as direction

    from with_previous

)

select * from final
