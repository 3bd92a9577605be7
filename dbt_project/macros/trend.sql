{#- SPEC §5: delta of the displayed values, so it agrees with the published tables. -#}
{% macro trend_delta(current_value, previous_value) -%}
    ({{ display_round(current_value) }} - {{ display_round(previous_value) }})
{%- endmacro %}

{% macro trend_direction(delta) -%}
    case
        when {{ delta }} is null then null
        when {{ delta }} > 0 then 'naik'
        when {{ delta }} < 0 then 'turun'
        else 'tetap'
    end
{%- endmacro %}
