"""Every answer a webhook gets, whole: status, body and each header, through the production WSGI
stack (portal.middleware.webhooks_first and the security middlewares before it). The shortcut's
route is resolved once per process; what the network receives stays the same."""

import pytest
from django.urls.resolvers import URLResolver

from ias.models import WebhookEvent
from tests.ias.fakes import envelope, post_webhook

pytestmark = pytest.mark.django_db

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Type": "application/json",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": CSP,
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch, settings):
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda *args, **kwargs: None)
    settings.CSP_FORM_ACTION_EXTRA = []
    settings.SECURE_HSTS_SECONDS = 0


def answer(response) -> tuple[int, bytes, dict[str, str]]:
    return response.status_code, response.content, dict(response.items())


def test_stored_and_duplicate_answers_are_whole(client):
    body = envelope("network-query.hie", message_id="answers-1")
    assert answer(post_webhook(client, body)) == (200, b'{"status": "stored"}', SECURITY_HEADERS)
    assert answer(post_webhook(client, body)) == (200, b'{"status": "duplicate"}', SECURITY_HEADERS)
    assert WebhookEvent.objects.filter(message_id="answers-1").count() == 1


def test_refused_answers_are_whole(client, settings):
    settings.IAS_WEBHOOK_MAX_BYTES = 300
    bad_signature = post_webhook(client, envelope("network-query.hie"), signature="0" * 64)
    assert answer(bad_signature) == (401, b'{"error": "invalid signature"}', SECURITY_HEADERS)
    malformed = post_webhook(client, {"meta": {"type": "network-query.hie"}})
    assert answer(malformed) == (400, b'{"error": "missing meta.messageId"}', SECURITY_HEADERS)
    too_large = post_webhook(client, envelope("network-query.hie", padding="x" * 400))
    assert answer(too_large) == (413, b'{"error": "body too large"}', SECURITY_HEADERS)
    assert answer(client.get("/webhooks/metriport/"))[:2] == (405, b"")
    assert WebhookEvent.objects.count() == 0


def test_the_route_is_resolved_once_per_process(client, monkeypatch):
    walks: list[str] = []
    resolve = URLResolver.resolve

    def counted(self, path):
        walks.append(path)
        return resolve(self, path)

    post_webhook(client, envelope("network-query.hie"))
    monkeypatch.setattr(URLResolver, "resolve", counted)
    for _ in range(3):
        response = post_webhook(client, envelope("network-query.hie"))
        assert response.status_code == 200
        assert response.wsgi_request.resolver_match.view_name == "ias:webhook"
    assert walks == []
    assert WebhookEvent.objects.count() == 4
