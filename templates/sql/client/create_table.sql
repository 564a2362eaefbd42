CREATE TABLE {{ table }} (
{%- for column in columns %}
  {{ column }},
{%- endfor %}
  PRIMARY KEY ("{{ bk::ID.sql }}")
);
