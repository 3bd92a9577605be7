with

aggregated as (

    select * from {{ ref('int_responses_aggregated') }}

),

targets as (

    select * from {{ ref('int_sample_targets_computed') }}

),

-- every response in raw is received, in the window or not (SPEC §4)
received as (

    select
        survey_year,
        unit_code,
        layanan_code,
        cast(sum(responses) as bigint) as respondents_received,
        cast(coalesce(sum(responses) filter (where is_in_window), 0) as bigint)
            as respondents_in_window,
        cast(coalesce(sum(responses) filter (where is_counted), 0) as bigint)
            as respondents_counted

    from aggregated
    group by survey_year, unit_code, layanan_code

),

final as (

    select
        received.survey_year,
        received.unit_code,
        received.layanan_code,
        received.respondents_received,
        received.respondents_in_window,
        received.respondents_counted,
        '{{ counting_rule() }}' as counting_rule,
        targets.target_sample,
        coalesce(targets.has_population, false) as has_population

    from received
    left join targets
        on
            received.survey_year = targets.survey_year
            and received.unit_code = targets.unit_code
            and received.layanan_code = targets.layanan_code

)

select * from final
