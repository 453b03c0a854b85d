{#- Descriptions as DuckDB comments (`persist_docs`), written only where they differ from what the
    warehouse holds: one query per model instead of two DESCRIBEs and a comment per column on every
    run (an hourly run rewrote some 200 identical comments). -#}
{% macro duckdb__persist_docs(relation, model, for_relation, for_columns) -%}
    {%- set wanted = {} -%}
    {%- if for_relation and config.persist_relation_docs() and model.description -%}
        {%- do wanted.update({'': model.description}) -%}
    {%- endif -%}
    {%- set columns = model.columns if for_columns and config.persist_column_docs() and model.columns else {} -%}
    {%- if not wanted and not columns -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set held = {} -%}
    {%- for row in run_query(kimera_comments_held(relation)).rows -%}
        {%- do held.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- if '' in wanted and held.get('') != wanted[''] -%}
        {%- do statements.append(duckdb__alter_relation_comment(relation, wanted[''])) -%}
    {%- endif -%}
    {%- for name, column in columns.items() -%}
        {%- if name in held and held[name] != column['description'] -%}
            {%- set quoted = adapter.quote(name) if column['quote'] else name -%}
            {%- do statements.append('comment on column ' ~ relation ~ '.' ~ quoted ~ ' is ' ~ duckdb_escape_comment(column['description']) ~ ';') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if statements -%}
        {%- do run_query(statements | join('\n')) -%}
    {%- endif -%}
{%- endmacro %}

{#- The comments `relation` holds: one row for the relation (column_name '') and one per column. -#}
{% macro kimera_comments_held(relation) -%}
    {%- set where -%}
        database_name = '{{ relation.database }}' and schema_name = '{{ relation.schema }}'
    {%- endset -%}
    select '' as column_name, comment from duckdb_tables()
    where {{ where }} and table_name = '{{ relation.identifier }}'
    union all
    select '', comment from duckdb_views()
    where {{ where }} and view_name = '{{ relation.identifier }}'
    union all
    select column_name, comment from duckdb_columns()
    where {{ where }} and table_name = '{{ relation.identifier }}'
{%- endmacro %}
