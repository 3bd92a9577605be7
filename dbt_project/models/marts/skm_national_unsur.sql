with

answer_groups as (

    select * from {{ ref('int_answer_groups_summed') }}

),

unit_unsur as (

    select * from {{ ref('skm_unit_unsur') }}

),

scopes as (

    select * from {{ ref('int_unit_scopes_expanded') }}

),

-- ikm_pooled: every counted answer of every unit in the scope, as if one unit
pooled as (

    select
        answer_groups.survey_year,
        scopes.scope_type,
        scopes.scope,
        answer_groups.group_code as unsur_code,
        min(answer_groups.unsur_name) as unsur_name,
        min(answer_groups.unsur_order) as unsur_order,
        count(distinct answer_groups.unit_code) as units,
        {{ index_from_sums() }}

    from answer_groups
    inner join scopes
        on answer_groups.unit_code = scopes.unit_code
    where answer_groups.item_kind = 'unsur'
    group by
        answer_groups.survey_year, scopes.scope_type, scopes.scope, answer_groups.group_code

),

-- ikm_unit_mean: each unit's unsur IKM weighs the same, whatever its size
unit_means as (

    select
        unit_unsur.survey_year,
        scopes.scope_type,
        scopes.scope,
        unit_unsur.unsur_code,
        {{ equal_weight_mean('unit_unsur.ikm') }} as ikm_unit_mean

    from unit_unsur
    inner join scopes
        on unit_unsur.unit_code = scopes.unit_code
    group by unit_unsur.survey_year, scopes.scope_type, scopes.scope, unit_unsur.unsur_code

),

final as (

    select
        pooled.survey_year,
        pooled.scope_type,
        pooled.scope,
        pooled.unsur_code,
        pooled.unsur_name,
        pooled.unsur_order,
        pooled.units,
        pooled.respondents,
        pooled.answers,
        pooled.score_sum,
        pooled.nrr as nrr_pooled,
        pooled.ikm as ikm_pooled,
        unit_means.ikm_unit_mean,
        {{ grade_mutu('pooled.ikm') }} as mutu_pooled,
        {{ grade_mutu('unit_means.ikm_unit_mean') }} as mutu_unit_mean

    from pooled
    inner join unit_means
        on
            pooled.survey_year = unit_means.survey_year
            and pooled.scope_type = unit_means.scope_type
            and pooled.scope = unit_means.scope
            and pooled.unsur_code = unit_means.unsur_code

)

select * from final
