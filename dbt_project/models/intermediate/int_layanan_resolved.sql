with

catalogue as (

    select * from {{ ref('stg_ref__layanan') }}

),

responses as (

    select * from {{ ref('stg_raw__responses') }}

),

layanan_seen as (

    select
        layanan_code,
        arg_max(layanan_name, loaded_at) as layanan_name

    from responses
    where layanan_code not in (select catalogue.layanan_code from catalogue)
    group by layanan_code

),

final as (

    select
        layanan_code,
        layanan_name,
        true as is_catalogued
    from catalogue

    union all

    select
        layanan_code,
        layanan_name,
        false as is_catalogued
    from layanan_seen

)

select * from final
