"""Every view behind `health_data_required`: anonymous → login; no second factor this session → MFA."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import mfa_session
from tests.security.urlwalk import REGISTRY, all_routes, url_for

pytestmark = pytest.mark.django_db

GATED = sorted((route for route in all_routes() if route.health_gated), key=lambda r: r.name)


def _first_answer(client, url):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    return response


def _redirect_path(response) -> str:
    assert response.status_code == 302, response.status_code
    return urlsplit(response["Location"]).path


def test_the_gate_is_used():
    names = {route.name for route in GATED}
    assert {"account_export", "account_delete"} <= names
    assert all(route.name for route in GATED), "a health-gated URL pattern has no name"


def test_every_page_of_ours_is_gated_or_known_public():
    """A new page must be behind the health gate, or listed (with a reason) as not showing health data."""
    loose = sorted(
        f"{route} ({route.route})"
        for route in all_routes()
        if route.ours and not route.health_gated and route.name not in REGISTRY.ungated
    )
    assert not loose, f"not behind health_data_required and not in REGISTRY.ungated: {loose}"


def test_every_records_page_is_gated():
    records = [route for route in all_routes() if route.namespace == "records"]
    assert records, "records has no pages"
    assert all(route.health_gated for route in records), [str(r) for r in records if not r.health_gated]


def test_ungated_registry_has_no_stale_names():
    names = {route.name for route in all_routes()}
    assert not set(REGISTRY.ungated) - names


@pytest.mark.parametrize("route", GATED, ids=str)
def test_anonymous_goes_to_login(route, client):
    url = url_for(route)
    response = _first_answer(client, url)
    assert _redirect_path(response) == reverse("account_login")
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [url]


@pytest.mark.parametrize("route", GATED, ids=str)
def test_without_a_second_factor_goes_to_mfa_setup(route, user):
    client = Client()
    client.force_login(user)
    assert _redirect_path(_first_answer(client, url_for(route))) == reverse("mfa_activate_totp")


@pytest.mark.parametrize("route", GATED, ids=str)
def test_second_factor_not_used_this_session_goes_to_mfa(route, mfa_user):
    client = mfa_session(Client(), mfa_user, mfa_at=False)
    assert _redirect_path(_first_answer(client, url_for(route))) == reverse("mfa_reauthenticate")


@pytest.mark.parametrize("route", GATED, ids=str)
def test_idle_session_goes_to_mfa(route, mfa_user):
    client = mfa_session(Client(), mfa_user, mfa_at=time.time() - 31 * 60, login_at=time.time() - 40 * 60)
    assert _redirect_path(_first_answer(client, url_for(route))) == reverse("mfa_reauthenticate")


@pytest.mark.parametrize("route", GATED, ids=str)
def test_twelve_hour_old_session_signs_in_again(route, mfa_user):
    client = mfa_session(Client(), mfa_user, login_at=time.time() - 13 * 3600)
    assert _redirect_path(_first_answer(client, url_for(route))) == reverse("account_login")
