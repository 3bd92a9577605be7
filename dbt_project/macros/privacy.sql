{#- Free text from the public can carry personal data the respondent typed in: a phone
    number or an e-mail address (UU 27/2022). Published text masks both; raw keeps the
    text as received. A phone number is 9 to 14 digits starting 0, 62 or +62 (mobiles
    08…, landlines 021…), spaces, dots, dashes and brackets allowed between digits, no
    dot right after a leading 0 (a fraction such as 0.3333333333). -#}
{% macro masked_personal_text(column) -%}
regexp_replace(
    regexp_replace(
        {{ column }},
        '[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}',
        '[email disamarkan / e-mail masked]',
        'g'
    ),
    '(\+?62[\s.\-()]*|\(?0[\s\-()]*)[1-9]([\s.\-()]*[0-9]){7,12}',
    '[nomor disamarkan / number masked]',
    'g'
)
{%- endmacro %}
