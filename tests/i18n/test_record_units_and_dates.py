"""Units, clock times and months on record pages follow the reader's language: a Spanish reader gets
"5 pies 7 pulg", "latidos/min", "UI/L", "3:04 p. m." and Spanish months, with English unchanged."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import translation

from records import charts, fhir
from tests.records.sharing_helpers import make_share

HEIGHT = "8302-2"


@pytest.mark.parametrize(
    ("language", "height", "pulse", "units", "drops", "clock"),
    [
        ("en", "5 ft 7 in", "beats/min", "IU/L", "drops", "3:04 PM"),
        ("es", "5 pies 7 pulg", "latidos/min", "UI/L", "gotas", "3:04 p. m."),
    ],
)
def test_units_and_clock_in_the_active_language(language, height, pulse, units, drops, clock):
    with translation.override(language):
        assert fhir.vital_text(67, "[in_i]", code=HEIGHT) == height
        assert fhir.ucum_display("{beats}/min") == pulse
        assert fhir.ucum_display("[iU]/L") == units
        assert fhir.ucum_display("[drp]") == drops
        assert fhir.ucum_display("mg/dL") == "mg/dL"  # symbols are the same in both languages
        assert fhir.clock_words(datetime(2026, 1, 5, 15, 4)) == clock


@pytest.mark.parametrize(("language", "label"), [("en", "Mar 2026"), ("es", "mar 2026")])
def test_a_short_charts_month_is_in_the_active_language(language, label):
    points = [
        {"when": datetime(2026, 3, 2, tzinfo=UTC), "value": 5.1},
        {"when": datetime(2026, 3, 20, tzinfo=UTC), "value": 5.6},
    ]
    with translation.override(language):
        chart = charts.trend_chart(points, None)
    assert [tick["label"] for tick in chart.x_ticks] == [label]


@pytest.mark.django_db
def test_share_dates_are_in_spanish(client_mfa, mfa_user):
    make_share(mfa_user)
    page = client_mfa.get(reverse("share:list"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    shown = re.findall(r'<time datetime="[^"]+">([^<]+)</time>', page)
    assert len(shown) >= 2, "made and expires"
    spanish = re.compile(
        r"^\d{1,2} (ene|feb|mar|abr|may|jun|jul|ago|sept?|oct|nov|dic) \d{4}, \d{1,2}:\d{2} [ap]\. m\. \S+$"
    )
    assert [text for text in shown if not spanish.match(text)] == []
