with

targets as (

    select * from {{ ref('int_sample_targets_computed') }}

),

tallied as (

    select * from {{ ref('int_responses_tallied') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

received as (

    select
        survey_year,
        unit_code,
        layanan_code,
        respondents_received,
        respondents_in_window,
        respondents_counted

    from tallied

),

final as (

    select
        targets.survey_year,
        targets.unit_code,
        units.unit_name,
        targets.layanan_code,
        layanan.layanan_name,
        targets.populasi,
        targets.has_population,
        targets.window_months,
        targets.population_window,
        targets.target_sample,
        coalesce(received.respondents_received, 0) as respondents_received,
        coalesce(received.respondents_in_window, 0) as respondents_in_window,
        coalesce(received.respondents_counted, 0) as respondents_counted,
        coalesce(received.respondents_counted, 0) >= targets.target_sample as is_met

    from targets
    left join received
        on
            targets.survey_year = received.survey_year
            and targets.unit_code = received.unit_code
            and targets.layanan_code = received.layanan_code
    left join units
        on targets.unit_code = units.unit_code
    left join layanan
        on targets.layanan_code = layanan.layanan_code

)

select * from final
