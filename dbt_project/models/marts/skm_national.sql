with

national_unsur as (

    select * from {{ ref('skm_national_unsur') }}

),

unit_scores as (

    select * from {{ ref('skm_unit') }}

),

scopes as (

    select * from {{ ref('int_unit_scopes_expanded') }}

),

pooled as (

    select
        survey_year,
        scope_type,
        scope,
        {{ equal_weight_mean('ikm_pooled') }} as ikm_pooled

    from national_unsur
    group by survey_year, scope_type, scope

),

unit_means as (

    select
        unit_scores.survey_year,
        scopes.scope_type,
        scopes.scope,
        count(unit_scores.ikm) as units,
        cast(sum(unit_scores.respondents_received) as bigint) as respondents_received,
        cast(sum(unit_scores.respondents_counted) as bigint) as respondents,
        {{ equal_weight_mean('unit_scores.ikm') }} as ikm_unit_mean

    from unit_scores
    inner join scopes
        on unit_scores.unit_code = scopes.unit_code
    group by unit_scores.survey_year, scopes.scope_type, scopes.scope

),

final as (

    select
        pooled.survey_year,
        pooled.scope_type,
        pooled.scope,
        unit_means.units,
        unit_means.respondents,
        unit_means.respondents_received,
        pooled.ikm_pooled,
        unit_means.ikm_unit_mean,
        {{ grade_mutu('pooled.ikm_pooled') }} as mutu_pooled,
        {{ grade_kinerja('pooled.ikm_pooled') }} as kinerja_pooled,
        {{ grade_mutu('unit_means.ikm_unit_mean') }} as mutu_unit_mean,
        {{ grade_kinerja('unit_means.ikm_unit_mean') }} as kinerja_unit_mean

    from pooled
    inner join unit_means
        on
            pooled.survey_year = unit_means.survey_year
            and pooled.scope_type = unit_means.scope_type
            and pooled.scope = unit_means.scope

)

select * from final
