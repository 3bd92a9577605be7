{#- SPEC §3: round for display only, half up. The value goes through a decimal first so
    that a double such as 88.305 (stored as 88.30499999...) rounds up as it reads. -#}
{% macro display_round(value) -%}
    round(cast({{ value }} as decimal(38, 10)), 2)
{%- endmacro %}

{#- PermenPANRB 14/2017 bands, half-open on the rounded value so none falls between. -#}
{% macro grade_mutu(value) -%}
    case
        when {{ value }} is null then null
        when {{ display_round(value) }} >= 88.31 then 'A'
        when {{ display_round(value) }} >= 76.61 then 'B'
        when {{ display_round(value) }} >= 65.00 then 'C'
        else 'D'
    end
{%- endmacro %}

{% macro grade_kinerja(value) -%}
    case
        when {{ value }} is null then null
        when {{ display_round(value) }} >= 88.31 then 'Sangat Baik'
        when {{ display_round(value) }} >= 76.61 then 'Baik'
        when {{ display_round(value) }} >= 65.00 then 'Kurang Baik'
        else 'Tidak Baik'
    end
{%- endmacro %}
