"""The account page's preferences: time zone (default from the address), units for vitals, notice emails."""

import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.crypto import encrypt_text
from accounts.models import AccessLogEntry
from ias.models import NetworkPatient

pytestmark = pytest.mark.django_db


def _post(client, **data):
    fields = {"time_zone": "address", "measurement_units": "us", **data}
    return client.post(reverse("account"), fields)


def _give_address(user, state: str) -> None:
    demographics = {"firstName": "Pat", "address": [{"addressLine1": "1 Main St", "state": state, "zip": "90001"}]}
    NetworkPatient.objects.create(
        user=user, facility_id="f", demographics_encrypted=encrypt_text(json.dumps(demographics))
    )


def test_form_shows_the_current_choices(client_mfa, mfa_user):
    html = client_mfa.get(reverse("account")).content.decode()
    assert 'id="preferences"' in html
    assert '<option value="address" selected>From my address</option>' in html
    assert '<option value="America/Chicago">Central (Chicago)</option>' in html
    assert '<option value="Europe/Paris">Europe/Paris</option>' in html
    assert html.index("America/Chicago") < html.index("Africa/Abidjan")  # US zones first
    assert 'value="us"' in html and "checked" in html
    assert "Email me when my records are ready or a search fails" in html


def test_saving_stores_every_choice(client_mfa, mfa_user):
    response = _post(client_mfa, time_zone="America/Denver", measurement_units="metric")
    assert response.status_code == 302 and response["Location"].endswith("#preferences")
    mfa_user.refresh_from_db()
    assert (mfa_user.time_zone, mfa_user.measurement_units, mfa_user.email_notifications) == (
        "America/Denver",
        "metric",
        False,  # an unticked box means no emails
    )
    _post(client_mfa, time_zone="address", email_notifications="on")
    mfa_user.refresh_from_db()
    assert (mfa_user.time_zone, mfa_user.measurement_units, mfa_user.email_notifications) == ("", "us", True)


def test_any_iana_zone_can_be_chosen(client_mfa, mfa_user):
    _post(client_mfa, time_zone="Asia/Kolkata")
    mfa_user.refresh_from_db()
    assert mfa_user.time_zone == "Asia/Kolkata"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Choose a time zone from the list."),
        ({"measurement_units": "imperial"}, "measurement_units", "Choose US or metric units."),
        ({"measurement_units": ""}, "measurement_units", "Choose US or metric units."),
        ({"time_zone": ""}, "time_zone", "Choose a time zone from the list."),
    ],
)
def test_errors_are_shown_next_to_the_field_and_nothing_is_saved(client_mfa, mfa_user, data, field, message):
    response = _post(client_mfa, **data)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<div class="field__error" id="id_{field}_error"><p>{message}</p></div>' in html
    mfa_user.refresh_from_db()
    assert (mfa_user.time_zone, mfa_user.measurement_units) == ("", "us")


def test_from_my_address_names_the_zone_of_the_state(client_mfa, mfa_user):
    _give_address(mfa_user, "CA")
    html = client_mfa.get(reverse("account")).content.decode()
    assert "From my address (America/Los Angeles)" in html


def test_times_follow_the_chosen_zone_then_the_address(client_mfa, mfa_user):
    AccessLogEntry.objects.create(
        subject=mfa_user, actor=mfa_user, action="records:summary", at=datetime(2026, 7, 1, 3, 30, tzinfo=UTC)
    )
    _give_address(mfa_user, "CA")
    assert "Jun 30, 2026, 8:30 PM PDT" in client_mfa.get(reverse("account")).content.decode()
    _post(client_mfa, time_zone="America/New_York")
    assert "Jun 30, 2026, 11:30 PM EDT" in client_mfa.get(reverse("account")).content.decode()
