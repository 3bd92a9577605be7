with

national as (

    select * from {{ ref('skm_national') }}

),

with_previous as (

    select
        scope_type,
        scope,
        survey_year,
        units,
        respondents,
        ikm_pooled,
        mutu_pooled,
        ikm_unit_mean,
        mutu_unit_mean,
        lag(survey_year) over (
            partition by scope_type, scope order by survey_year
        ) as previous_year,
        lag(ikm_pooled) over (
            partition by scope_type, scope order by survey_year
        ) as previous_ikm_pooled,
        lag(mutu_pooled) over (
            partition by scope_type, scope order by survey_year
        ) as previous_mutu_pooled,
        lag(ikm_unit_mean) over (
            partition by scope_type, scope order by survey_year
        ) as previous_ikm_unit_mean,
        lag(mutu_unit_mean) over (
            partition by scope_type, scope order by survey_year
        ) as previous_mutu_unit_mean

    from national

),

final as (

    select
        *,
        {{ trend_delta('ikm_pooled', 'previous_ikm_pooled') }} as delta_pooled,
        {{ trend_direction(trend_delta('ikm_pooled', 'previous_ikm_pooled')) }}
            as direction_pooled,
        {{ trend_delta('ikm_unit_mean', 'previous_ikm_unit_mean') }} as delta_unit_mean,
        {{ trend_direction(trend_delta('ikm_unit_mean', 'previous_ikm_unit_mean')) }}
            as direction_unit_mean

    from with_previous

)

select * from final
