with

tallied as (

    select * from {{ ref('int_responses_tallied') }}

),

layanan_unsur as (

    select * from {{ ref('skm_layanan_unsur') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

-- every response in raw is received, in the window or not (SPEC §4)
received as (

    select
        survey_year,
        unit_code,
        layanan_code,
        respondents_received,
        respondents_in_window,
        respondents_counted,
        counting_rule,
        target_sample,
        has_population

    from tallied

),

indexed as (

    select
        survey_year,
        unit_code,
        layanan_code,
        {{ equal_weight_mean('ikm') }} as ikm,
        count(*) as unsur_scored,
        {{ pivot_unsur_columns('ikm') }}

    from layanan_unsur
    group by survey_year, unit_code, layanan_code

),

final as (

    select
        received.survey_year,
        received.unit_code,
        units.unit_name,
        received.layanan_code,
        layanan.layanan_name,
        received.respondents_received,
        received.respondents_in_window,
        received.respondents_counted,
        received.counting_rule,
        received.target_sample,
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
            and received.layanan_code = indexed.layanan_code
    left join units
        on received.unit_code = units.unit_code
    left join layanan
        on received.layanan_code = layanan.layanan_code

)

select * from final
