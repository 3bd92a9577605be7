with

source_items as (

    select * from {{ source('ref', 'questionnaire_items') }}

),

final as (

    select
        lower(trim(item_code)) as item_code,
        block,
        question_number,
        upper(trim(unsur_code)) as unsur_code,
        unsur_name,
        unsur_order,
        scale,
        -- ak* is the anti-corruption block (IPAK); a q* item without unsur is asked but
        -- stays out of the IKM (questions 12–14, SPEC §2)
        case
            when lower(trim(item_code)) like 'ak%' then 'ipak'
            when unsur_code is not null then 'unsur'
            else 'other'
        end as item_kind

    from source_items

)

select * from final
