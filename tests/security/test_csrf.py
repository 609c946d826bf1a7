"""Every state-changing view refuses a POST without a CSRF token; only known network endpoints are exempt."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import mfa_session
from tests.security.urlwalk import REGISTRY, all_routes, url_for

pytestmark = pytest.mark.django_db


def _allowed_exempt(route) -> bool:
    return route.name in REGISTRY.csrf_exempt or route.namespace.split(":")[0] in REGISTRY.csrf_exempt_namespaces


ROUTES = all_routes()
CHECKED = sorted((r for r in ROUTES if not r.csrf_exempt and url_for(r)), key=lambda r: (r.name, r.route))


def test_only_known_views_are_csrf_exempt():
    exempt = sorted(f"{r} ({r.route})" for r in ROUTES if r.csrf_exempt and not _allowed_exempt(r))
    assert not exempt, f"csrf_exempt views not in REGISTRY.csrf_exempt: {exempt}"


def test_the_walk_reaches_every_page_of_ours():
    unreached = sorted(str(r) for r in ROUTES if r.ours and not r.csrf_exempt and not url_for(r))
    assert not unreached, f"cannot build a URL for: {unreached}"
    assert len(CHECKED) > 50


@pytest.fixture
def staff_csrf_client(staff_user):
    """Staff with MFA this session, so neither the admin guard nor the health gate answers first."""
    return mfa_session(Client(enforce_csrf_checks=True), staff_user)


@pytest.mark.parametrize("route", CHECKED, ids=lambda r: r.name or r.route)
def test_post_without_token_is_refused(route, staff_csrf_client):
    response = staff_csrf_client.post(url_for(route), {"confirm": "on", "confirmation": "DELETE"})
    assert response.status_code == 403, f"{route}: {response.status_code}"


def test_post_with_a_token_is_accepted(staff_csrf_client, staff_user):
    """The same client with a token gets through, so the 403s above come from the CSRF check."""
    page = staff_csrf_client.get(reverse("account_consent_revoke"))
    token = page.context["csrf_token"]
    response = staff_csrf_client.post(
        reverse("account_consent_revoke"), {"confirm": "on", "csrfmiddlewaretoken": str(token)}
    )
    assert response.status_code == 302


def test_cross_site_post_with_a_stolen_cookie_but_no_token_is_refused(staff_csrf_client, staff_user):
    staff_csrf_client.get(reverse("account_delete"))
    response = staff_csrf_client.post(
        reverse("account_delete"),
        {"confirmation": "DELETE"},
        HTTP_ORIGIN="https://evil.example",
        HTTP_REFERER="https://evil.example/",
    )
    assert response.status_code == 403
    assert type(staff_user).objects.filter(pk=staff_user.pk).exists()
