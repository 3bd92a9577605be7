{#- A view: every consumer reads a few of its columns, and a table would copy every
    response of the store at each run. -#}
{{ config(materialized='view') }}

with

responses as (

    select * from {{ ref('stg_raw__responses') }}

),

windows as (

    select * from {{ ref('stg_ref__survey_windows') }}

),

with_window as (

    select
        responses.*,
        windows.survey_year is not null as has_configured_window,
        -- a year without a configured window uses its calendar year (SPEC §4)
        coalesce(windows.window_start, make_date(responses.survey_year, 1, 1)) as window_start,
        coalesce(windows.window_end, make_date(responses.survey_year, 12, 31)) as window_end

    from responses
    left join windows
        on responses.survey_year = windows.survey_year

),

final as (

    select
        *,
        -- no submission time is taken as inside; the end date is inside all day
        coalesce(
            cast(submitted_at as date) between window_start and window_end,
            true
        ) as is_in_window

    from with_window

)

select * from final
