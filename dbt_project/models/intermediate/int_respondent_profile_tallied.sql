{#- marts.respondent_profile without the unit name, which a view joins at each build. -#}
-- depends_on: {{ source('ops', 'mart_build_scopes') }}
{{ scoped_incremental() }}

with

responses as (

    select * from {{ ref('stg_raw__responses') }}
    {% if is_incremental() %}
    where {{ in_build_scopes() }}
    {% endif %}

),

categories as (

    select * from {{ ref('profile_categories') }}

),

-- every response received counts here, in the window or not (SPEC §4)
unit_years as (

    select
        survey_year,
        unit_code,
        count(*) as respondents_received

    from responses
    group by survey_year, unit_code

),

age_groups as (

    select * from {{ ref('age_groups') }}

),

-- each characteristic is counted per value first: a few rows per unit-year, whatever
-- the number of responses
ages as (

    select
        survey_year,
        unit_code,
        respondent_age,
        respondent_age_group,
        count(*) as respondents

    from responses
    group by survey_year, unit_code, respondent_age, respondent_age_group

),

answered as (

    select
        survey_year,
        unit_code,
        'sex' as characteristic,
        coalesce(respondent_sex, 'Tidak diisi') as category,
        count(*) as respondents
    from responses
    group by survey_year, unit_code, respondent_sex

    union all

    select
        survey_year,
        unit_code,
        'education' as characteristic,
        coalesce(respondent_education, 'Tidak diisi') as category,
        count(*) as respondents
    from responses
    group by survey_year, unit_code, respondent_education

    union all

    select
        survey_year,
        unit_code,
        'occupation' as characteristic,
        coalesce(respondent_occupation, 'Tidak diisi') as category,
        count(*) as respondents
    from responses
    group by survey_year, unit_code, respondent_occupation

    union all

    select
        ages.survey_year,
        ages.unit_code,
        'age' as characteristic,
        -- an age in years falls into its group; an age answered as a group is that group
        coalesce(age_groups.category, ages.respondent_age_group, 'Tidak diisi') as category,
        ages.respondents
    from ages
    left join age_groups
        on
            ages.respondent_age between age_groups.age_min and age_groups.age_max

),

tallied as (

    select
        survey_year,
        unit_code,
        characteristic,
        category,
        cast(sum(respondents) as bigint) as respondents

    from answered
    group by survey_year, unit_code, characteristic, category

),

-- every category appears for every unit-year, 0 where no one answered it
grid as (

    select
        unit_years.survey_year,
        unit_years.unit_code,
        categories.characteristic,
        categories.category,
        categories.category_order

    from unit_years
    cross join categories

),

-- a label the catalogue does not list still shows, after the listed ones
all_categories as (

    select
        coalesce(grid.survey_year, tallied.survey_year) as survey_year,
        coalesce(grid.unit_code, tallied.unit_code) as unit_code,
        coalesce(grid.characteristic, tallied.characteristic) as characteristic,
        coalesce(grid.category, tallied.category) as category,
        coalesce(grid.category_order, 98) as category_order,
        coalesce(tallied.respondents, 0) as respondents

    from grid
    full outer join tallied
        on
            grid.survey_year = tallied.survey_year
            and grid.unit_code = tallied.unit_code
            and grid.characteristic = tallied.characteristic
            and grid.category = tallied.category

),

final as (

    select
        all_categories.survey_year,
        all_categories.unit_code,
        all_categories.characteristic,
        all_categories.category,
        all_categories.category_order,
        all_categories.respondents,
        unit_years.respondents_received,
        cast(all_categories.respondents as double) * 100 / unit_years.respondents_received as pct

    from all_categories
    inner join unit_years
        on
            all_categories.survey_year = unit_years.survey_year
            and all_categories.unit_code = unit_years.unit_code

)

select * from final
