with

tallied as (

    select * from {{ ref('int_responses_tallied') }}

),

unit_unsur as (

    select * from {{ ref('skm_unit_unsur') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

received as (

    select
        survey_year,
        unit_code,
        cast(sum(respondents_received) as bigint) as respondents_received,
        cast(sum(respondents_in_window) as bigint) as respondents_in_window,
        cast(sum(respondents_counted) as bigint) as respondents_counted,
        min(counting_rule) as counting_rule,
        -- false when some layanan had no population, so all its responses counted
        bool_and(has_population) as has_population

    from tallied
    group by survey_year, unit_code

),

indexed as (

    select
        survey_year,
        unit_code,
        {{ equal_weight_mean('ikm') }} as ikm,
        count(*) as unsur_scored,
        {{ pivot_unsur_columns('ikm') }}

    from unit_unsur
    group by survey_year, unit_code

),

final as (

    select
        received.survey_year,
        received.unit_code,
        units.unit_name,
        units.unit_type,
        units.province,
        received.respondents_received,
        received.respondents_in_window,
        received.respondents_counted,
        received.counting_rule,
        received.has_population,
        indexed.ikm,
        {{ grade_mutu('indexed.ikm') }} as mutu,
        {{ grade_kinerja('indexed.ikm') }} as kinerja,
        coalesce(indexed.unsur_scored, 0) as unsur_scored,
        {{ unsur_columns('indexed') }}

    from received
    left join indexed
        on
            received.survey_year = indexed.survey_year
            and received.unit_code = indexed.unit_code
    left join units
        on received.unit_code = units.unit_code

)

select * from final
