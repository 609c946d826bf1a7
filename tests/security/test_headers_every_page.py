"""The Content-Security-Policy and the other security headers on every page, signed in or not."""

import re

import pytest

from tests.conftest import mfa_session
from tests.security.urlwalk import REGISTRY, all_routes, url_for

pytestmark = pytest.mark.django_db

PAGES = sorted((r for r in all_routes() if not r.takes_id and url_for(r)), key=lambda r: (r.name, r.route))
ID_PAGES = sorted(REGISTRY.id_cases)


def check_headers(response, where: str) -> None:
    csp = response.get("Content-Security-Policy", "")
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in csp, f"{where}: CSP lacks {directive!r}"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert response.get("X-Content-Type-Options") == "nosniff", where
    assert response.get("X-Frame-Options") == "DENY", where
    assert response.get("Referrer-Policy") == "strict-origin-when-cross-origin", where
    assert response.get("Cross-Origin-Opener-Policy") == "same-origin", where
    assert "camera=()" in response.get("Permissions-Policy", ""), where
    if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        html = response.content.decode(errors="replace")
        inline = [
            tag
            for tag in re.findall(r"<script\b[^>]*>", html, re.I)
            if "src=" not in tag and 'type="application/json"' not in tag  # JSON data blocks never run
        ]
        assert not inline, f"{where}: inline script {inline} (CSP blocks it)"
        assert not re.search(r"\sstyle\s*=", html, re.I), f"{where}: style attribute (CSP blocks it)"
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html, re.I), f"{where}: inline event handler"


def _get(client, url):
    return client.get(url)


@pytest.mark.parametrize("route", PAGES, ids=lambda r: r.name or r.route)
def test_headers_for_anonymous(route, client):
    check_headers(_get(client, url_for(route)), f"anonymous {route}")


@pytest.mark.parametrize("route", PAGES, ids=lambda r: r.name or r.route)
def test_headers_signed_in_with_mfa(route, client, staff_user):
    response = _get(mfa_session(client, staff_user), url_for(route))
    check_headers(response, f"staff+MFA {route}")
    if route.health_gated and response.status_code == 200:
        assert "no-store" in response.get("Cache-Control", ""), f"{route}: health page may be cached"


@pytest.mark.parametrize("name", ID_PAGES)
def test_headers_on_pages_with_ids(name, make_mfa_client, mfa_user, tmp_path):
    from django.urls import reverse

    url = reverse(name, kwargs=REGISTRY.id_cases[name].make(mfa_user, tmp_path))
    response = make_mfa_client(mfa_user).get(url)
    check_headers(response, name)


def test_not_found_and_errors_carry_headers_too(client):
    check_headers(client.get("/no-such-page-at-all/"), "404")
