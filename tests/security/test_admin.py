"""The staff admin refuses anonymous people, non-staff, and staff who have not used their second factor."""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import mfa_session
from tests.security.urlwalk import all_routes, url_for

pytestmark = pytest.mark.django_db

ADMIN_PAGES = sorted(
    (
        r
        for r in all_routes()
        if r.namespace == "admin" and not r.takes_id and url_for(r) and r.name not in ("admin:logout", "admin:login")
    ),
    key=lambda r: r.name,
)


def _path(response) -> str:
    return urlsplit(response["Location"]).path


def test_admin_walk_found_the_changelists():
    assert len(ADMIN_PAGES) > 10


@pytest.mark.parametrize("route", ADMIN_PAGES, ids=str)
def test_anonymous_goes_to_login(route, client):
    response = client.get(url_for(route))
    assert response.status_code == 302 and _path(response) == reverse("account_login")


@pytest.mark.parametrize("route", ADMIN_PAGES, ids=str)
def test_non_staff_with_mfa_is_forbidden(route, make_mfa_client, mfa_user):
    client = make_mfa_client(mfa_user)
    assert client.get(url_for(route)).status_code == 403
    assert client.post(url_for(route), {}).status_code == 403


@pytest.mark.parametrize("route", ADMIN_PAGES, ids=str)
def test_staff_without_mfa_this_session_goes_to_mfa(route, staff_user):
    client = mfa_session(Client(), staff_user, mfa_at=False)
    url = url_for(route)
    assert url is not None
    response = client.get(url)
    assert response.status_code == 302 and _path(response) == reverse("mfa_reauthenticate")


def test_staff_without_any_second_factor_must_set_one_up(db):
    from accounts.models import User

    staff = User.objects.create_user(
        email="no.factor.staff@example.com", password="x" * 12, is_staff=True, is_superuser=True
    )
    client = Client()
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    assert _path(response) == reverse("mfa_activate_totp")


@pytest.mark.parametrize("route", [r for r in ADMIN_PAGES if r.name.endswith(("_changelist", ":index"))], ids=str)
def test_staff_with_mfa_gets_in(route, staff_client_mfa):
    assert staff_client_mfa.get(url_for(route)).status_code == 200


def test_admin_login_form_does_not_bypass_mfa(client, staff_user, password):
    """Posting the password to Django's own admin login still leaves the admin behind the second factor."""
    client.post(reverse("admin:login"), {"username": staff_user.email, "password": password})
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert _path(response) in (reverse("mfa_reauthenticate"), reverse("account_login"))
