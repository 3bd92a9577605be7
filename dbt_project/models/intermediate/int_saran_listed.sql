{#- The suggestions of marts.saran without the unit and layanan names, which a view joins
    at each build (an incremental build appends here and leaves older rows alone). -#}
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
        response_key,
        survey_year,
        unit_code,
        layanan_code,
        submitted_at,
        saran,
        is_counted

    from suggestions

)

select * from final
