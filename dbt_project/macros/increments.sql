{#- Incremental builds. Before it runs dbt, skm-etl (src/skm_etl/transform/increments.py)
    writes the scopes, (survey_year, unit_code), that received responses since the last
    complete build to ops.mart_build_scopes, and that build's last loaded_at to
    ops.mart_build_delta; or, when anything else changed, runs a full build. It clears
    both once the build is recorded. -#}

{#- A filter keeping the rows of the scopes this build recomputes. -#}
{% macro in_build_scopes(survey_year='survey_year', unit_code='unit_code') -%}
({{ survey_year }}, {{ unit_code }}) in (
    select survey_year, unit_code from {{ source('ops', 'mart_build_scopes') }}
)
{%- endmacro %}

{#- The loaded_at after which responses are new to this build, as a literal, so DuckDB
    skips the row groups loaded before it (rows are stored in the order they were
    loaded). With no row (a full build, or a dbt run of one's own: skm-etl clears the
    plan once a build is recorded) nothing is new. -#}
{% macro loaded_after() -%}
{%- if execute -%}
{%- set rows = run_query("select strftime(loaded_after, '%Y-%m-%d %H:%M:%S.%f') from " ~ source('ops', 'mart_build_delta')).rows -%}
{%- if rows | length == 1 -%}
timestamp '{{ rows[0][0] }}'
{%- else -%}
timestamp 'infinity'
{%- endif -%}
{%- else -%}
timestamp 'infinity'
{%- endif -%}
{%- endmacro %}

{#- A model recomputed per scope: on an incremental build its rows of the listed scopes
    are deleted and those scopes computed again; its query keeps only their responses
    with in_build_scopes() when is_incremental(). -#}
{% macro scoped_incremental() -%}
{{ config(materialized='incremental', incremental_strategy='scope_replace', on_schema_change='fail') }}
{%- endmacro %}

{#- dbt's custom incremental strategy `scope_replace`: the scopes listed are replaced
    whole, including a scope whose rows are all gone. -#}
{% macro get_incremental_scope_replace_sql(arg_dict) -%}
{%- set target = arg_dict['target_relation'] -%}
{%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
delete from {{ target }}
where {{ in_build_scopes() }};

insert into {{ target }} ({{ columns }})
select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#- The response-level models' incremental builds. Under `all`, a response's results do
    not depend on any other response, so only the new responses are read: their rows are
    appended, or their sums added to their groups' (`unique_key`). Under
    `target_sample`, a new response can push an earlier one of its layanan out of the
    sample, so the scopes with new responses are recomputed whole. -#}
{% macro response_incremental(unique_key=none) -%}
{%- if var('counting', 'all') == 'target_sample' -%}
{{ scoped_incremental() }}
{%- elif unique_key -%}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key=unique_key, on_schema_change='fail') }}
{%- else -%}
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='fail') }}
{%- endif -%}
{%- endmacro %}

{#- The filter of a response_incremental() model's responses on an incremental build. -#}
{% macro in_this_build() -%}
{%- if var('counting', 'all') == 'target_sample' -%}
{{ in_build_scopes() }}
{%- else -%}
loaded_at > {{ loaded_after() }}
{%- endif -%}
{%- endmacro %}
