{#- A response's window does not depend on any other response: an incremental build
    appends its new responses' rows. -#}
-- depends_on: {{ source('ops', 'mart_build_delta') }}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}

with

responses as (

    select * from {{ ref('int_responses_windowed') }}
    {% if is_incremental() %}
    where loaded_at > {{ loaded_after() }}
    {% endif %}

),

final as (

    select
        response_key,
        source_file,
        source_row,
        unit_code,
        unit_name,
        survey_year,
        submitted_at,
        window_start,
        window_end,
        has_configured_window,
        case
            when has_configured_window
                then format(
                    'diisi di luar periode survei {0} / submitted outside the {0} survey '
                    || 'window ({1} – {2})',
                    survey_year,
                    window_start,
                    window_end
                )
            else format(
                'diisi di luar tahun {0} / submitted outside calendar year {0} '
                || '(no survey window configured for that year)',
                survey_year
            )
        end as reason

    from responses
    where not is_in_window

)

select * from final
