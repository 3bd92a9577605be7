with

responses as (

    select * from {{ ref('int_responses_counted') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

-- every received response's suggestion, counted or not (SPEC §4); no personal data
final as (

    select
        responses.response_key,
        responses.survey_year,
        responses.unit_code,
        units.unit_name,
        responses.layanan_code,
        layanan.layanan_name,
        responses.submitted_at,
        responses.saran,
        responses.is_counted

    from responses
    left join units
        on responses.unit_code = units.unit_code
    left join layanan
        on responses.layanan_code = layanan.layanan_code
    where responses.saran is not null

)

select * from final
