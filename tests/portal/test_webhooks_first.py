"""The networks' webhooks are served ahead of the browser's middleware (portal.middleware.webhooks_first):
same answers and security headers, none of the session, language or CSRF machinery, and only for
CSRF-exempt webhook views."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError
from django.http import HttpResponse
from django.urls import path, reverse

from ias.models import WebhookEvent
from portal import middleware
from tests.ias.fakes import envelope, post_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda *args, **kwargs: None)


def test_a_webhook_is_stored_without_the_browsers_middleware(client):
    response = post_webhook(client, envelope("network-query.hie", message_id="first-1"))
    assert response.status_code == 200
    assert response.json() == {"status": "stored"}
    assert WebhookEvent.objects.get().message_id == "first-1"
    # LocaleMiddleware would add Content-Language and vary on Accept-Language, sessions on Cookie.
    assert "Content-Language" not in response
    assert "Vary" not in response
    assert not response.cookies
    assert response.wsgi_request.resolver_match.view_name == "ias:webhook"


def test_a_page_still_goes_through_the_whole_stack(client):
    """The contrast that lets the test above fail: a browser page has the language machinery."""
    response = client.get(reverse("privacy"))
    assert response.status_code == 200
    assert "Content-Language" in response
    assert "Accept-Language" in response["Vary"]


def test_webhook_answers_keep_the_security_headers(client):
    response = post_webhook(client, envelope("network-query.hie"))
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_shortcut_serves_exactly_the_webhook_routes():
    assert {reverse("ias:webhook"), reverse("ias:webhook_particle")} == {
        "/" + str(pattern.pattern) for pattern in middleware.webhook_urlpatterns
    }
    assert all(
        str(pattern.pattern).startswith(middleware.WEBHOOK_PREFIX[1:]) for pattern in middleware.webhook_urlpatterns
    )


def test_an_unknown_path_under_the_prefix_is_an_ordinary_404(client):
    response = client.post("/webhooks/nobody/", data=b"{}", content_type="application/json")
    assert response.status_code == 404


def test_an_unknown_host_is_refused(client):
    response = post_webhook(client, envelope("network-query.hie"), HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_a_busy_database_answers_503_with_retry_after(client, monkeypatch):
    def busy(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("ias.webhooks.event_store", busy)
    response = post_webhook(client, envelope("network-query.hie"))
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json() == {"error": "database busy, try again"}


def test_a_view_that_checks_csrf_is_never_served_ahead(monkeypatch):
    def page(request):
        return HttpResponse("")

    monkeypatch.setattr(middleware, "webhook_urlpatterns", [path("webhooks/page/", page)])
    with pytest.raises(ImproperlyConfigured, match="csrf_exempt"):
        middleware.webhooks_first(lambda request: HttpResponse(""))
