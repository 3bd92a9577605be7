with

source_rtl as (

    select * from {{ source('ref', 'rtl') }}

),

final as (

    select
        survey_year,
        trim(unit_code) as unit_code,
        nullif(trim(layanan_code), '') as layanan_code,
        upper(trim(unsur_code)) as unsur_code,
        penyebab,
        rencana_tindak_lanjut,
        batas_waktu,
        penanggung_jawab,
        lower(trim(status)) as status,
        lower(trim(status)) = 'sudah' as is_realized,
        realized_at

    from source_rtl

)

select * from final
