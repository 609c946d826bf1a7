"""Times in the person's zone in one format, dates that never move a day, UCUM units for people."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from records import fhir
from records.models import Resource
from tests.records.conftest import ingest_bundle
from tests.records.converter_shapes import bundle, observation

TIMES = fhir.TIMES
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("text", "zone", "shown"),
    [
        ("2012-08-15T09:00Z", NEW_YORK, "Aug 15, 2012, 5:00 AM EDT"),
        ("2012-08-15T09:00:00.000Z", LOS_ANGELES, "Aug 15, 2012, 2:00 AM PDT"),
        ("2012-08-15T02:00:00Z", NEW_YORK, "Aug 14, 2012, 10:00 PM EDT"),  # an instant moves to the person's day
        ("2012-01-15T23:30:00-06:00", NEW_YORK, "Jan 16, 2012, 12:30 AM EST"),
        ("2012-08-15", LOS_ANGELES, "Aug 15, 2012"),  # a date alone never shifts
        ("2012-08-15", ZoneInfo("Pacific/Pago_Pago"), "Aug 15, 2012"),
        ("2012-08", NEW_YORK, "Aug 2012"),
        ("2012", NEW_YORK, "2012"),
        ("2012-08-15T09:00:00", NEW_YORK, "Aug 15, 2012, 9:00 AM"),  # no zone given: as given
    ],
)
def test_fhir_dates_in_one_format(text, zone, shown):
    assert fhir.format_fhir_date(text, zone=zone) == shown


def test_instants_and_database_times_share_the_format():
    moment = datetime(2012, 8, 15, 9, 0, tzinfo=UTC)
    assert fhir.format_instant(moment, zone=NEW_YORK) == fhir.format_fhir_date("2012-08-15T09:00Z", zone=NEW_YORK)


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("mL/min/{1.73_m2}", "mL/min/1.73 m²"),
        ("10*9/L", TIMES + "10⁹/L"),
        ("10*3/uL", TIMES + "10³/µL"),
        ("10*12/L", TIMES + "10¹²/L"),
        ("[lb_av]", "lb"),
        ("[in_i]", "in"),
        ("Cel", "°C"),
        ("[degF]", "°F"),
        ("kg", "kg"),
        ("cm", "cm"),
        ("mm[Hg]", "mmHg"),
        ("kg/m2", "kg/m²"),
        ("%{HemoglobinSaturation}", "%"),
        ("{cells}/uL", "cells/µL"),
        ("umol/L", "µmol/L"),
        ("U/L", "U/L"),
        ("[iU]/mL", "IU/mL"),
        ("mg/dL", "mg/dL"),
    ],
)
def test_ucum_units_for_people(code, shown):
    assert fhir.ucum_display(code) == shown
    assert fhir.unit_display({"value": 1, "unit": code, "system": fhir.UCUM, "code": code}) == shown


def test_converter_quantity_reads_well():
    egfr = observation("e", loinc="33914-3", display="eGFR", value=58, unit="mL/min/{1.73_m2}")
    assert fhir.observation_value_text(egfr) == "58 mL/min/1.73 m²"
    wbc = observation("w", loinc="6690-2", display="WBC", value=7.2, unit="10*9/L")
    assert fhir.observation_value_text(wbc) == "7.2 " + TIMES + "10⁹/L"


@pytest.fixture
def midnight_owner(mfa_user, private_storage_dir):
    mfa_user.time_zone = "America/Los_Angeles"
    mfa_user.save(update_fields=["time_zone"])
    early = observation("k-instant", loinc="2823-3", display="Potassium", value=4.1, unit="mmol/L")
    early["effectiveDateTime"] = "2012-08-15T03:00:00.000Z"
    dated = observation("k-date", loinc="2823-3", display="Potassium", value=4.4, unit="mmol/L")
    dated["effectiveDateTime"] = "2012-09-01"
    ingest_bundle(mfa_user, bundle(early, dated))
    return mfa_user


def _pk(user, rid: str) -> int:
    return Resource.objects.get(user=user, resource_id=rid).pk


@pytest.mark.django_db
def test_item_near_midnight_is_shown_in_the_persons_zone(midnight_owner, make_mfa_client):
    client = make_mfa_client(midnight_owner)
    page = client.get(reverse("records:item", args=[_pk(midnight_owner, "k-instant")])).content.decode()
    assert "Aug 14, 2012, 8:00 PM PDT" in page
    assert "Aug 15, 2012" not in page


@pytest.mark.django_db
def test_a_date_without_time_does_not_move_on_any_page(midnight_owner, make_mfa_client):
    client = make_mfa_client(midnight_owner)
    pk = _pk(midnight_owner, "k-date")
    for url in (
        reverse("records:item", args=[pk]),
        reverse("records:trend", args=[pk]),
        reverse("records:category", args=["labs"]),
    ):
        page = client.get(url).content.decode()
        assert "Sep 1, 2012" in page, url
        assert "Aug 31, 2012" not in page, url


@pytest.mark.django_db
def test_trend_table_uses_the_same_format(midnight_owner, make_mfa_client):
    client = make_mfa_client(midnight_owner)
    page = client.get(reverse("records:trend", args=[_pk(midnight_owner, "k-date")])).content.decode()
    assert "Aug 14, 2012, 8:00 PM PDT" in page
