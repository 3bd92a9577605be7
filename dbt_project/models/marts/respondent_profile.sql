{#- A view: its rows come from int_respondent_profile_tallied, which an incremental build
    recomputes per scope; the unit names are those of this build. The served file and the
    Parquet export hold it as a table. -#}
{{ config(materialized='view') }}

with

profile as (

    select * from {{ ref('int_respondent_profile_tallied') }}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

final as (

    select
        profile.survey_year,
        profile.unit_code,
        units.unit_name,
        profile.characteristic,
        profile.category,
        profile.category_order,
        profile.respondents,
        profile.respondents_received,
        profile.pct

    from profile
    left join units
        on profile.unit_code = units.unit_code

)

select * from final
