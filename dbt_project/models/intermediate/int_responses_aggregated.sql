{#- Everything the index marts need from responses is a count or a sum per survey year,
    unit and layanan, so one pass here turns millions of response rows into a few
    thousand, and no mart reads response rows again. Responses are grouped by which
    items they answered (bit n of answered_items_mask is the n-th of score_columns()):
    every response of a group answered the same items, so an item's answers in a group
    are the group's responses. -#}
-- depends_on: {{ source('ops', 'mart_build_scopes') }}
-- depends_on: {{ source('ops', 'mart_build_delta') }}
{%- set groups = [
    'survey_year', 'unit_code', 'layanan_code', 'is_in_window', 'is_counted',
    'answered_items_mask'
] %}
{{ response_incremental(unique_key=groups) }}

with

responses as (

    select * from {{ ref('int_responses_counted') }}
    {% if is_incremental() %}
    where {{ in_this_build() }}
    {% endif %}

),

-- one row per response, counting 1
grouped as (

    select
        survey_year,
        unit_code,
        layanan_code,
        is_in_window,
        is_counted,
        {{ answered_items_mask() }} as answered_items_mask,
        {% for column in score_columns() %}
        {{ column }},
        {% endfor %}
        1 as responses

    from responses

),

summed as (

    select * from grouped
    {% if is_incremental() and var('counting', 'all') != 'target_sample' %}
    -- an incremental build under `all` read only the new responses: the sums their
    -- groups already have are added to theirs
    union all by name
    select * from {{ this }}
    where ({{ groups | join(', ') }}) in (select {{ groups | join(', ') }} from grouped)
    {% endif %}

),

final as (

    select
        {{ groups | join(',\n        ') }},
        {% for column in score_columns() %}
        cast(sum({{ column }}) as bigint) as {{ column }},
        {% endfor %}
        cast(sum(responses) as bigint) as responses

    from summed
    group by {{ groups | join(', ') }}

)

select * from final
