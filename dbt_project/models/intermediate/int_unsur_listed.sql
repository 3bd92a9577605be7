with

items as (

    select * from {{ ref('stg_ref__questionnaire_items') }}

),

final as (

    select
        unsur_code,
        min(unsur_name) as unsur_name,
        min(unsur_order) as unsur_order,
        max(scale) as scale,
        count(*) as questions

    from items
    where item_kind = 'unsur'
    group by unsur_code

)

select * from final
