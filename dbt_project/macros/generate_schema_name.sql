{#- `+schema: marts` gives schema `marts`, not dbt's default `main_marts`: the served file
    and the analysts' queries name these schemas directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
