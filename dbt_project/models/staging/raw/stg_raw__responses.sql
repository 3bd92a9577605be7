with

source_responses as (

    select * from {{ source('raw', 'responses') }}

),

final as (

    select
        response_key,
        batch_id,
        source_kind,
        source_file,
        source_row,
        trim(unit_code) as unit_code,
        trim(unit_name) as unit_name,
        survey_year,
        trim(layanan_code) as layanan_code,
        trim(layanan_name) as layanan_name,
        submitted_at,
        respondent_age,
        respondent_age_group,
        respondent_sex,
        respondent_education,
        respondent_occupation,
        completion_pct,
        {% for column in score_columns() %}
        cast({{ column }} as integer) as {{ column }},
        {% endfor %}
        -- a blank, "-" or "." is no suggestion (SPEC §5 saran); a phone number or e-mail
        -- address typed into it is personal data and stays in raw (macros/privacy.sql)
        case
            when regexp_full_match(coalesce(trim(saran), ''), '[\s.\-–—]*') then null
            else {{ masked_personal_text('trim(saran)') }}
        end as saran,
        loaded_at

    from source_responses

)

select * from final
