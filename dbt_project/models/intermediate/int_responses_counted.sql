{#- Under `all` a view: is_counted is is_in_window and nothing is ranked. Under
    `target_sample` a table, so the ranking of every response runs once, recomputed per
    scope (survey year × unit: the ranking's partitions lie inside one). -#}
-- depends_on: {{ source('ops', 'mart_build_scopes') }}
{% if var('counting', 'all') == 'target_sample' %}
{{ scoped_incremental() }}
{% else %}
{{ config(materialized='view') }}
{% endif %}

with

responses as (

    select * from {{ ref('int_responses_windowed') }}
    {% if is_incremental() %}
    where {{ in_build_scopes() }}
    {% endif %}

),

targets as (

    select * from {{ ref('int_sample_targets_computed') }}

),

ranked as (

    select
        responses.*,
        targets.target_sample,
        coalesce(targets.has_population, false) as has_population,
        {% if counting_rule() == 'target_sample' %}
        -- submission order: time first, the export's row number where there is no time
        case
            when responses.is_in_window
                then row_number() over (
                    partition by
                        responses.survey_year,
                        responses.unit_code,
                        responses.layanan_code,
                        responses.is_in_window
                    order by
                        responses.submitted_at asc nulls last,
                        responses.source_row asc,
                        responses.source_file asc,
                        responses.response_key asc
                )
        end as submission_position
        {% else %}
        -- `all` ranks nothing; without a window function here, a filter on the responses
        -- (an incremental build's new ones) reaches the table scan
        cast(null as bigint) as submission_position
        {% endif %}

    from responses
    left join targets
        on
            responses.survey_year = targets.survey_year
            and responses.unit_code = targets.unit_code
            and responses.layanan_code = targets.layanan_code

),

final as (

    select
        *,
        '{{ counting_rule() }}' as counting_rule,
        -- where S is unknown (no population) every in-window response counts (SPEC §4)
        is_in_window
        and (
            '{{ counting_rule() }}' = 'all'
            or target_sample is null
            or submission_position <= target_sample
        ) as is_counted

    from ranked

)

select * from final
