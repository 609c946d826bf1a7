"""Attacks on POST /webhooks/metriport/: forged, oversized, malformed, unknown and replayed deliveries."""

import hashlib
import hmac
import json
import uuid

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def url():
    return reverse("ias:webhook")


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Enqueueing is not what is attacked here; record it instead of publishing."""
    sent = []
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda task, *args, **kwargs: sent.append(kwargs))
    return sent


def sign(raw: bytes, key: str | None = None) -> str:
    """Computed here, independently of the code under test."""
    return hmac.new((key or settings.METRIPORT_WEBHOOK_KEY).encode(), raw, hashlib.sha256).hexdigest()


def event(kind: str = "network-query.hie", message_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "meta": {
                "messageId": message_id or str(uuid.uuid4()),
                "when": "2026-11-01T10:00:00Z",
                "type": kind,
                "requestId": "req-attack",
            },
            "payload": {"patientId": "np-attack", "status": "completed"},
        }
    ).encode()


def post(client, url, raw: bytes, signature: str | None = "sign", **extra):
    headers = {}
    if signature == "sign":
        headers["HTTP_X_METRIPORT_SIGNATURE"] = sign(raw)
    elif signature is not None:
        headers["HTTP_X_METRIPORT_SIGNATURE"] = signature
    return client.post(url, data=raw, content_type="application/json", **headers, **extra)


def stored() -> int:
    from ias.models import WebhookEvent

    return WebhookEvent.objects.count()


def test_a_genuine_delivery_is_stored(client, url, _no_broker):
    response = post(client, url, event())
    assert response.status_code == 200
    assert stored() == 1


@pytest.mark.parametrize(
    "signature",
    [None, "", "0" * 64, "not-hex", "sha256=", "deadbeef", "x" * 10000, "é" * 64],
    ids=["missing", "empty", "zeros", "not-hex", "prefix-only", "short", "huge", "non-ascii"],
)
def test_bad_or_missing_signature_is_refused_and_not_stored(client, url, signature):
    response = post(client, url, event(), signature=signature)
    assert response.status_code == 401
    assert stored() == 0


def test_signature_with_another_key_is_refused(client, url):
    raw = event()
    assert post(client, url, raw, signature=sign(raw, key="someone-elses-key")).status_code == 401
    assert stored() == 0


def test_signature_of_a_different_body_is_refused(client, url):
    """A captured signature cannot be reused on a tampered body."""
    genuine = event()
    tampered = genuine.replace(b"np-attack", b"np-victim")
    assert post(client, url, tampered, signature=sign(genuine)).status_code == 401
    assert stored() == 0


def test_oversized_body_is_refused_before_anything_else(client, url, settings):
    settings.IAS_WEBHOOK_MAX_BYTES = 4096
    raw = event()[:-1] + b', "padding": "' + b"A" * 5000 + b'"}'
    response = post(client, url, raw)
    assert response.status_code == 413
    assert stored() == 0


def test_lying_content_length_is_refused(client, url, settings):
    settings.IAS_WEBHOOK_MAX_BYTES = 4096
    raw = event()
    response = post(client, url, raw, CONTENT_LENGTH="99999999")
    assert response.status_code == 413
    assert stored() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"not json",
        b"[]",
        b'"a string"',
        b"null",
        b"{}",
        b'{"meta": []}',
        b'{"meta": {"type": "x"}}',
        b'{"meta": {"messageId": "m"}}',
        b"\xff\xfe\x00",
        b'{"meta": {"type": 5, "messageId": 5}}',
        b'{"meta": {"type": "x", "messageId": "' + b"m" * 300 + b'"}}',
    ],
    ids=[
        "empty",
        "truncated",
        "text",
        "list",
        "string",
        "null",
        "no-meta",
        "meta-list",
        "no-message-id",
        "no-type",
        "binary",
        "wrong-types",
        "message-id-too-long",
    ],
)
def test_malformed_json_is_refused_and_not_stored(client, url, raw):
    response = post(client, url, raw)
    assert response.status_code == 400
    assert stored() == 0
    assert set(response.json()) == {"error"}


def test_deeply_nested_json_does_not_crash(client, url):
    raw = b'{"meta": {"type": "x", "messageId": "deep"}, "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = post(client, url, raw)
    assert response.status_code in (200, 400, 413)


def test_unknown_type_is_stored_and_ignored(client, url, _no_broker):
    from ias import webhooks
    from ias.models import WebhookEvent

    response = post(client, url, event(kind="evil.unknown-type"))
    assert response.status_code == 200
    row = WebhookEvent.objects.get()
    webhooks.event_process(event_id=row.pk)
    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.IGNORED


def test_replayed_message_id_is_stored_once_and_processed_once(client, url, _no_broker):
    raw = event(message_id="replay-me")
    first = post(client, url, raw)
    second = post(client, url, raw)
    third = post(client, url, event(message_id="replay-me", kind="network-query.pharmacy"))
    assert first.status_code == second.status_code == third.status_code == 200
    assert second.json()["status"] == "duplicate"
    assert stored() == 1


def test_get_and_other_methods_are_refused(client, url):
    assert client.get(url).status_code == 405
    assert client.put(url, data=event(), content_type="application/json").status_code == 405


def test_the_body_is_stored_encrypted(client, url):
    from ias.models import WebhookEvent

    post(client, url, event(message_id="secret-check"))
    assert b"np-attack" not in bytes(WebhookEvent.objects.get().body_encrypted)
