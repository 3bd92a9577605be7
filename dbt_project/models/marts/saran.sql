{#- A view: its rows come from int_saran_listed, which an incremental build appends to;
    the names are those of this build (a unit outside the registry takes the name of its
    latest response). The served file and the Parquet export hold it as a table. -#}
{{ config(materialized='view') }}

with

suggestions as (

    select * from {{ ref('int_saran_listed') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

final as (

    select
        suggestions.response_key,
        suggestions.survey_year,
        suggestions.unit_code,
        units.unit_name,
        suggestions.layanan_code,
        layanan.layanan_name,
        suggestions.submitted_at,
        suggestions.saran,
        suggestions.is_counted

    from suggestions
    left join units
        on suggestions.unit_code = units.unit_code
    left join layanan
        on suggestions.layanan_code = layanan.layanan_code

)

select * from final
