"""Spanish as written in the United States: a decimal point and comma thousands, as on US lab
reports and medicine labels (Django's own "es" formats follow Spain: decimal comma)."""

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
