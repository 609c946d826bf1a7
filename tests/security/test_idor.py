"""Every page of ours that takes an id, requested by another signed-in person: 404, never data."""

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

import tests.security.factories  # noqa: F401
from tests.security.urlwalk import REGISTRY, all_routes

pytestmark = pytest.mark.django_db

ROUTES = {route.name: route for route in all_routes() if route.name}


def test_every_id_taking_page_of_ours_has_a_factory():
    """A new page with an id in its URL must say here how to make an object someone owns."""
    missing = sorted(
        f"{route} ({route.route})"
        for route in all_routes()
        if route.ours
        and route.takes_id
        and route.name not in REGISTRY.id_cases
        and route.name not in REGISTRY.not_owned
    )
    assert not missing, (
        "These id-taking URLs have no entry in tests/security/factories.py (REGISTRY.id_cases) "
        f"nor in REGISTRY.not_owned: {missing}"
    )


def test_registry_has_no_stale_names():
    stale = sorted(set(REGISTRY.id_cases) - set(ROUTES))
    assert not stale, f"registered URL names that no longer exist: {stale}"


def _hit(client, url):
    """GET, and POST too when the view takes it; yields the answers that were not 405."""
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if response.status_code != 405:
            yield method, response


@pytest.mark.parametrize("name", sorted(REGISTRY.id_cases))
def test_other_person_gets_404(name, mfa_user, make_mfa_client, other_user_client_mfa, tmp_path):
    case = REGISTRY.id_cases[name]
    # The owner proves the factory makes a reachable object (on a separate object: a visit may use it up).
    owner = make_mfa_client(mfa_user).get(reverse(name, kwargs=case.make(mfa_user, tmp_path)))
    assert owner.status_code != 404, f"{name}: the owner cannot reach their own object, the factory is wrong"
    kwargs = case.make(mfa_user, tmp_path)
    url = reverse(name, kwargs=kwargs)

    answers = list(_hit(other_user_client_mfa, url))
    assert answers, f"{name} accepts neither GET nor POST"
    for method, response in answers:
        if case.refused is not None:
            case.refused(response, kwargs, mfa_user)
        else:
            assert response.status_code == 404, f"{method.upper()} {name}: {response.status_code}"
        body = response.content.decode(errors="replace")
        assert "Owner-Only" not in body and "Owner-only words" not in body


@pytest.mark.parametrize("name", sorted(REGISTRY.id_cases))
def test_anonymous_never_sees_the_object(name, client, mfa_user, tmp_path):
    kwargs = REGISTRY.id_cases[name].make(mfa_user, tmp_path)
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code in (302, 404, 405)
    if response.status_code == 302:
        assert urlsplit(response["Location"]).path == reverse("account_login")
