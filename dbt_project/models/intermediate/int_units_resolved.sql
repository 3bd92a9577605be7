with

registry as (

    select * from {{ ref('stg_ref__units') }}

),

responses as (

    select * from {{ ref('stg_raw__responses') }}

),

-- Without a registry (a single unit running it) units come as they are (SPEC §6.5);
-- the latest loaded name stands for the unit.
units_seen as (

    select
        unit_code,
        arg_max(unit_name, loaded_at) as unit_name

    from responses
    where unit_code not in (select registry.unit_code from registry)
    group by unit_code

),

unregistered as (

    select
        unit_code,
        unit_name,
        case
            when lower(unit_name) like 'balai besar pom%' then 'Balai Besar POM'
            when lower(unit_name) like 'balai pom%' then 'Balai POM'
            when lower(unit_name) like 'loka pom%' then 'Loka POM'
            else 'Pusat'
        end as unit_type,
        cast(null as varchar) as province,
        false as is_registered

    from units_seen

),

registered as (

    select
        unit_code,
        unit_name,
        unit_type,
        province,
        true as is_registered

    from registry

),

final as (

    select * from registered
    union all
    select * from unregistered

)

select * from final
