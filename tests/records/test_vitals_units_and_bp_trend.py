"""Vitals in the person's units (known factors only, charts converted alike); blood pressure as two lines."""

import pytest
from django.urls import reverse

from records import charts, fhir, selectors
from records.models import Resource
from tests.records.conftest import ingest_bundle
from tests.records.converter_shapes import blood_pressure, bundle, observation


def _vital(rid: str, loinc: str, display: str, value: float, unit: str, when: str) -> dict:
    return observation(rid, loinc=loinc, display=display, value=value, unit=unit, when=when, category="vital-signs")


def _vitals_bundle() -> dict:
    return bundle(
        _vital("w1", "29463-7", "Body weight", 70, "kg", "2021-03-01T15:00:00.000Z"),
        _vital("w2", "29463-7", "Body weight", 160, "[lb_av]", "2022-03-01T15:00:00.000Z"),
        _vital("h1", "8302-2", "Body height", 170, "cm", "2022-03-01T15:00:00.000Z"),
        _vital("t1", "8310-5", "Body temperature", 37, "Cel", "2022-03-01T15:00:00.000Z"),
        _vital("b1", "39156-5", "Body mass index", 24.2, "kg/m2", "2022-03-01T15:00:00.000Z"),
        blood_pressure("bp1", systolic=128, diastolic=82, when="2021-03-01T15:00:00.000Z"),
        blood_pressure("bp2", systolic=135, diastolic=88, when="2022-03-01T15:00:00.000Z"),
        _vital("sys3", "8480-6", "Systolic blood pressure", 141, "mm[Hg]", "2023-03-01T15:00:00.000Z"),
        _vital("dia3", "8462-4", "Diastolic blood pressure", 91, "mm[Hg]", "2023-03-01T15:00:00.000Z"),
    )


@pytest.fixture
def vitals_owner(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, _vitals_bundle())
    return mfa_user


def _pk(user, rid: str) -> int:
    return Resource.objects.get(user=user, resource_id=rid).pk


@pytest.mark.parametrize(
    ("value", "unit", "units", "expected"),
    [
        (70, "kg", "us", (154.32, "[lb_av]")),
        (160, "[lb_av]", "metric", (72.57, "kg")),
        (170, "cm", "us", (66.93, "[in_i]")),
        (67, "[in_i]", "metric", (170.18, "cm")),
        (37, "Cel", "us", (98.6, "[degF]")),
        (98.6, "[degF]", "metric", (37.0, "Cel")),
        (70, "kg", "metric", (70.0, "kg")),
    ],
)
def test_known_factors(value, unit, units, expected):
    result = fhir.vital_convert(value, unit, units=units)
    assert result is not None
    converted, target = result
    assert (round(converted, 2), target) == expected


def test_no_factor_no_conversion():
    assert fhir.vital_convert(24.2, "kg/m2", units="us") is None  # BMI is the same in both
    assert fhir.vital_convert(72, "/min", units="us") is None
    assert fhir.vital_convert(5, "stone", units="metric") is None


def test_height_reads_in_feet_and_inches():
    height = _vital("h", "8302-2", "Body height", 170, "cm", "2022-03-01")
    assert fhir.vital_value_text(height, units="us") == "5 ft 7 in"
    assert fhir.vital_value_text(height, units="metric") == "170 cm"


@pytest.mark.django_db
def test_summary_shows_vitals_in_us_units_by_default(vitals_owner, make_mfa_client):
    page = make_mfa_client(vitals_owner).get(reverse("records:summary")).content.decode()
    assert "Latest vitals" in page
    for shown in ("160 lb", "5 ft 7 in", "98.6 °F", "24.2 kg/m²", "135/88 mmHg"):
        assert shown in page, shown
    assert "170 cm" not in page and "37 °C" not in page


@pytest.mark.django_db
def test_metric_preference_shows_metric(vitals_owner, make_mfa_client):
    vitals_owner.measurement_units = "metric"
    vitals_owner.save(update_fields=["measurement_units"])
    client = make_mfa_client(vitals_owner)
    page = client.get(reverse("records:category", args=["vitals"])).content.decode()
    for shown in ("72.6 kg", "170 cm", "37 °C"):
        assert shown in page, shown
    item = client.get(reverse("records:item", args=[_pk(vitals_owner, "w2")])).content.decode()
    assert "72.6 kg" in item


@pytest.mark.django_db
def test_weight_trend_converts_every_point_to_one_unit(vitals_owner):
    trend = selectors.trend_for(user=vitals_owner, pk=_pk(vitals_owner, "w1"))
    assert trend.unit == "lb"
    assert [p["value_text"] for p in trend.points] == ["154.3 lb", "160 lb"]
    assert [round(p["value"], 1) for p in trend.points] == [154.3, 160.0]
    assert trend.other_units == []


@pytest.mark.django_db
def test_blood_pressure_trend_has_systolic_and_diastolic_lines(vitals_owner, make_mfa_client):
    trend = selectors.trend_for(user=vitals_owner, pk=_pk(vitals_owner, "bp1"))
    systolic, diastolic = trend.series
    assert (systolic["name"], diastolic["name"]) == ("Systolic", "Diastolic")
    assert [p["value"] for p in systolic["points"]] == [128, 135, 141]
    assert [p["value"] for p in diastolic["points"]] == [82, 88, 91]
    chart = charts.trend_chart(trend.points, trend.band, series=trend.series)
    assert len(chart.lines) == 2 and all(line["path"].startswith("M ") for line in chart.lines)
    page = make_mfa_client(vitals_owner).get(reverse("records:trend", args=[_pk(vitals_owner, "sys3")])).content
    html = page.decode()
    assert "Blood pressure over time" in html
    assert html.count('class="chart__line chart__line--') == 2
    assert "128/82 mmHg" in html
    assert "141/91 mmHg" in html  # separate results taken together read as one reading
    assert [row["value_text"] for row in trend.rows] == ["141/91 mmHg", "135/88 mmHg", "128/82 mmHg"]
    assert "Diastolic 82 mmHg" in html  # each line's points say which line they are on


@pytest.mark.django_db
def test_blood_pressure_panel_rows_offer_a_trend(vitals_owner, make_mfa_client):
    page = make_mfa_client(vitals_owner).get(reverse("records:category", args=["vitals"])).content.decode()
    assert reverse("records:trend", args=[_pk(vitals_owner, "bp2")]) in page
