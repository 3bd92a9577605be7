with

source_layanan as (

    select * from {{ source('ref', 'layanan') }}

),

final as (

    select
        trim(layanan_code) as layanan_code,
        trim(layanan_name) as layanan_name

    from source_layanan

)

select * from final
