"""POST /webhooks/metriport/: signature, size cap, malformed bodies, ping, store-once, enqueue after commit."""

import orjson
import pytest

from accounts.crypto import decrypt_bytes
from ias.models import WebhookEvent
from tests.ias.fakes import envelope, post_webhook, source_event

pytestmark = pytest.mark.django_db


def test_valid_event_is_stored_encrypted_and_enqueued_after_commit(
    client, no_enqueue, django_capture_on_commit_callbacks
):
    body = source_event("hie", patient_id="pat_1", request_id="req_1", message_id="m-1")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_webhook(client, body)
    assert response.status_code == 200
    assert response.json() == {"status": "stored"}
    event = WebhookEvent.objects.get()
    assert (event.message_id, event.event_type, event.request_id, event.network_patient_id) == (
        "m-1",
        "network-query.hie",
        "req_1",
        "pat_1",
    )
    assert event.status == WebhookEvent.Status.PENDING
    stored = bytes(event.body_encrypted)
    assert b"pat_1" not in stored
    assert orjson.loads(decrypt_bytes(stored)) == body
    assert no_enqueue == []  # nothing is sent before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert no_enqueue == [("ias.event_process", {"event_id": event.pk})]


def test_duplicate_message_id_is_acknowledged_and_does_nothing(client, no_enqueue, django_capture_on_commit_callbacks):
    body = source_event("lab", patient_id="pat_1", request_id="req_1", message_id="same")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_webhook(client, body)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = post_webhook(client, body)
    assert first.json() == {"status": "stored"}
    assert second.status_code == 200
    assert second.json() == {"status": "duplicate"}
    assert callbacks == []
    assert WebhookEvent.objects.count() == 1
    assert len(no_enqueue) == 1


@pytest.mark.parametrize("signature", ["", "0" * 64, "not-hex", "A" * 64])
def test_bad_or_missing_signature_is_401_and_nothing_stored(client, signature):
    response = post_webhook(client, envelope("network-query.hie"), signature=signature)
    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0


def test_signature_with_the_wrong_key_is_401(client):
    from ias import webhooks

    raw = orjson.dumps(envelope("network-query.hie"))
    response = post_webhook(client, raw, signature=webhooks.sign(raw=raw, key="someone-else"))
    assert response.status_code == 401


def test_uppercase_hex_signature_is_accepted(client, no_enqueue):
    from ias import webhooks

    raw = orjson.dumps(envelope("network-query.hie"))
    response = post_webhook(client, raw, signature=webhooks.sign(raw=raw).upper())
    assert response.status_code == 200


def test_signature_is_over_the_raw_bytes_not_reserialised_json(client):
    from ias import webhooks

    raw = b'{"meta": {"messageId": "x", "type": "t"}}'
    sig = webhooks.sign(raw=raw)
    assert post_webhook(client, raw.replace(b": ", b":"), signature=sig).status_code == 401


def test_body_over_the_cap_is_413(client, settings):
    settings.IAS_WEBHOOK_MAX_BYTES = 1000
    body = envelope("network-query.hie", payload={"pad": "x" * 2000})
    response = post_webhook(client, body)
    assert response.status_code == 413
    assert WebhookEvent.objects.count() == 0


def test_body_at_the_cap_is_accepted(client, settings, no_enqueue):
    raw = orjson.dumps(envelope("network-query.hie", payload={"pad": ""}))
    settings.IAS_WEBHOOK_MAX_BYTES = len(raw)
    assert post_webhook(client, raw).status_code == 200


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"[1, 2]", "body is not a JSON object"),
        (b'{"payload": {}}', "missing meta"),
        (b'{"meta": "x"}', "missing meta"),
        (b'{"meta": {"messageId": "m"}}', "missing meta.type"),
        (b'{"meta": {"type": "network-query.hie"}}', "missing meta.messageId"),
    ],
)
def test_malformed_body_is_400_with_a_reason(client, raw, reason):
    response = post_webhook(client, raw)
    assert response.status_code == 400
    assert response.json() == {"error": reason}
    assert WebhookEvent.objects.count() == 0


def test_ping_answers_pong_with_the_same_value(client, no_enqueue):
    response = post_webhook(client, envelope("ping", ping="r4nd0m"))
    assert response.status_code == 200
    assert response.json() == {"pong": "r4nd0m"}
    assert no_enqueue == []
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


def test_ping_without_message_id_still_pongs(client):
    raw = orjson.dumps({"meta": {"type": "ping"}, "ping": "abc"})
    assert post_webhook(client, raw).json() == {"pong": "abc"}


def test_unknown_type_is_stored_and_acknowledged(client, no_enqueue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, envelope("something.new", whatever=[1]))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().event_type == "something.new"
    assert len(no_enqueue) == 1


def test_get_is_not_allowed(client):
    assert client.get("/webhooks/metriport/").status_code == 405


def test_endpoint_needs_no_csrf_token(no_enqueue):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert post_webhook(strict, envelope("network-query.hie")).status_code == 200


def test_broker_down_still_acknowledges_and_keeps_the_event(client, monkeypatch, django_capture_on_commit_callbacks):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr("celery.app.task.Task.apply_async", broken)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, envelope("network-query.hie"))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PENDING


def test_request_makes_no_network_call(client, no_enqueue, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the webhook view must not call the network")

    monkeypatch.setattr("ias.metriport.client", boom)
    assert post_webhook(client, source_event("hie", patient_id="p", request_id="r")).status_code == 200
