"""Dates and numbers follow the active language: Spanish month names and the US Spanish 12-hour
clock (a. m./p. m.), and US Spanish numbers (decimal point), with English output unchanged."""

from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.utils import formats, translation

from records import fhir


@pytest.mark.parametrize(
    ("language", "day", "month", "moment"),
    [
        ("en", "Mar 14, 2019", "Mar 2019", "Aug 15, 2012, 5:30 PM"),
        ("es", "14 mar 2019", "mar 2019", "15 ago 2012, 5:30 p. m."),
    ],
)
def test_fhir_dates_in_the_active_language(language, day, month, moment):
    with translation.override(language):
        assert fhir.format_fhir_date("2019-03-14") == day
        assert fhir.format_fhir_date("2019-03") == month
        assert fhir.format_fhir_date("2012-08-15T17:30:00") == moment


def test_the_when_filter_speaks_spanish():
    template = Template("{% load record_time %}{{ moment|when }}")
    moment = datetime(2026, 1, 5, 15, 4, tzinfo=UTC)
    with translation.override("es"):
        spanish = template.render(Context({"moment": moment}))
    with translation.override("en"):
        english = template.render(Context({"moment": moment}))
    assert spanish.startswith("5 ene 2026, ") and english.startswith("Jan 5, 2026, ")


def test_us_spanish_numbers_use_a_decimal_point():
    with translation.override("es"):
        assert formats.localize(5.4) == "5.4"
        assert formats.number_format(1234.5, 1, force_grouping=True) == "1,234.5"
        assert formats.date_format(datetime(2026, 11, 1), "DATE_FORMAT") == "1 de noviembre de 2026"
