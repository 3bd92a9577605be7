-- depends_on: {{ source('ops', 'mart_build_scopes') }}
-- depends_on: {{ source('ops', 'mart_build_delta') }}
{{ response_incremental() }}

with

responses as (

    select * from {{ ref('int_responses_counted') }}
    {% if is_incremental() %}
    where {{ in_this_build() }}
    {% endif %}

),

units as (

    select * from {{ ref('int_units_resolved') }}

),

layanan as (

    select * from {{ ref('int_layanan_resolved') }}

),

-- every received response's suggestion, counted or not (SPEC §4); no personal data (a
-- phone number or e-mail address in the text is masked in staging).
-- A suggestion is free text from the public. One that starts like a spreadsheet formula
-- (= + - @, a tab or a line break, or their full-width forms) would run as a formula
-- when an analyst opens an export of this mart in Excel or Sheets (CSV injection), so it
-- is published with a leading apostrophe: spreadsheets read that as "text", and the
-- words stay as written. raw.responses keeps the suggestion exactly as received.
suggestions as (

    select
        * exclude (saran),
        case
            when regexp_matches(saran, '^[=+\-@\t\r\n＝＋－＠]') then '''' || saran
            else saran
        end as saran

    from responses
    where saran is not null

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
