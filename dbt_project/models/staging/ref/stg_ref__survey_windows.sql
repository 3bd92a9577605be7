with

source_windows as (

    select * from {{ source('ref', 'survey_windows') }}

),

final as (

    select
        survey_year,
        window_start,
        window_end,
        {{ months_spanned('window_start', 'window_end') }} as window_months

    from source_windows

)

select * from final
