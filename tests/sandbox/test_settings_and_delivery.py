"""Sections 6 and 7 over real HTTP: ping/pong, signed deliveries, failures kept, retries, faults."""

import hashlib
import hmac
import json

from sandbox import tasks
from sandbox.models import AccountSettings, Fault, WebhookDelivery
from tests.sandbox import contract
from tests.sandbox.conftest import WEBHOOK_KEY, Receiver
from tests.sandbox.test_api_patients import problem


def expected_signature(raw: bytes, key: str = WEBHOOK_KEY) -> str:
    return hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()


def enqueue(type_="medical.test", patient=None, django_capture_on_commit_callbacks=None):
    from sandbox import services

    return services.webhook_enqueue(
        type=type_, body={"payload": {"hello": "world"}}, patient=patient, request_id="req-1", data={"k": "v"}
    )


def test_settings_ping_pong_enables_the_url(api, receiver):
    response = api.post("/settings", {"webhookUrl": receiver.url})
    assert response.status_code == 200
    body = response.json()
    assert body["webhookUrl"] == receiver.url and body["webhookKey"] == WEBHOOK_KEY and body["id"]
    (ping,) = receiver.requests
    parsed = json.loads(ping["raw"])
    contract.check_envelope(parsed, "ping")
    assert parsed["ping"]
    assert ping["headers"]["x-metriport-signature"] == expected_signature(ping["raw"])
    assert ping["headers"]["user-agent"] == "Metriport API"
    status = api.get("/settings/webhook").json()
    assert status == {
        "webhookEnabled": True,
        "webhookStatusDetail": None,
        "webhookRequestsProcessing": 0,
        "webhookRequestsFailed": 0,
    }
    assert api.get("/settings").json()["webhookUrl"] == receiver.url


def test_a_wrong_pong_disables_the_url(api, receiver):
    receiver.pong = False
    assert api.post("/settings", {"webhookUrl": receiver.url}).status_code == 200
    status = api.get("/settings/webhook").json()
    assert status["webhookEnabled"] is False and "pong" in status["webhookStatusDetail"]
    delivery = enqueue()
    assert delivery.status == "failed"
    assert api.get("/settings/webhook").json()["webhookRequestsFailed"] >= 1


def test_settings_errors(api):
    problem(api.post("/settings", {"webhookUrl": "not a url"}), 400, "webhookUrl")
    problem(api.post("/settings", {}), 400, "webhookUrl")
    unreachable = api.post("/settings", {"webhookUrl": "http://127.0.0.1:9/x"})
    assert unreachable.status_code == 200
    assert api.get("/settings/webhook").json()["webhookEnabled"] is False


def test_a_delivery_is_signed_exactly_over_the_raw_body(db, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery = enqueue()
    assert len(callbacks) == 1
    tasks.webhook_deliver.apply(args=[delivery.pk])
    (got,) = receiver.requests
    assert got["raw"] == delivery.body.encode()
    assert got["headers"]["x-metriport-signature"] == expected_signature(got["raw"])
    assert got["headers"]["x-metriport-signature"] != expected_signature(got["raw"], "another-key")
    assert got["headers"]["user-agent"] == "Metriport API"
    assert got["headers"]["content-type"] == "application/json"
    body = json.loads(got["raw"])
    meta = contract.check_envelope(body, "medical.test")
    assert meta["requestId"] == "req-1" and meta["data"] == {"k": "v"}
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.last_status_code == 200 and delivery.attempts == 1
    tasks.webhook_deliver.apply(args=[delivery.pk])
    assert len(receiver.requests) == 1, "a redelivered task does not send twice"


def test_failures_are_kept_and_retried_oldest_first_with_the_same_message_id(api, receiver):
    receiver.status = 500
    first, second = enqueue("medical.first"), enqueue("medical.second")
    for delivery in (first, second):
        tasks.webhook_deliver.apply(args=[delivery.pk])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    assert WebhookDelivery.objects.get(pk=first.pk).last_status_code == 500
    assert api.get("/settings/webhook").json()["webhookRequestsFailed"] == 2
    receiver.status = 200
    response = api.post("/settings/webhook/retry")
    assert response.status_code == 200 and response.json()["retried"] == 2
    retried = [json.loads(r["raw"])["meta"] for r in receiver.requests[2:]]
    assert [m["type"] for m in retried] == ["medical.first", "medical.second"]
    assert [m["messageId"] for m in retried] == [str(first.message_id), str(second.message_id)]
    assert receiver.requests[2]["raw"] == receiver.requests[0]["raw"]
    assert api.get("/settings/webhook").json()["webhookRequestsFailed"] == 0


def test_redirects_are_not_followed(db, receiver):
    target = Receiver()
    try:
        receiver.redirect_to = target.url
        delivery = enqueue()
        tasks.webhook_deliver.apply(args=[delivery.pk])
        delivery.refresh_from_db()
        assert delivery.status == "failed" and delivery.last_status_code == 302
        assert target.requests == []
    finally:
        target.close()


def test_the_stored_settings_row_overrides_the_default_url(db, receiver, settings):
    other = Receiver()
    try:
        AccountSettings.objects.create(webhook_url=other.url)
        delivery = enqueue()
        tasks.webhook_deliver.apply(args=[delivery.pk])
        assert len(other.requests) == 1 and receiver.requests == []
    finally:
        other.close()


def test_duplicate_fault_sends_the_same_message_twice(db, receiver):
    Fault.objects.create(kind="duplicate")
    delivery = enqueue()
    tasks.webhook_deliver.apply(args=[delivery.pk])
    assert len(receiver.requests) == 2
    ids = {json.loads(r["raw"])["meta"]["messageId"] for r in receiver.requests}
    assert ids == {str(delivery.message_id)}


def test_drop_fault_by_type_prefix(db, receiver, eager, django_capture_on_commit_callbacks):
    Fault.objects.create(kind="drop", target="network-query.lab")
    with django_capture_on_commit_callbacks(execute=True):
        dropped = enqueue("network-query.lab")
        kept = enqueue("network-query.hie")
    assert WebhookDelivery.objects.get(pk=dropped.pk).status == "dropped"
    assert WebhookDelivery.objects.get(pk=kept.pk).status == "delivered"
    assert [json.loads(r["raw"])["meta"]["type"] for r in receiver.requests] == ["network-query.hie"]


def test_a_whole_ias_query_reaches_the_receiver_signed(
    api, receiver, ias_ready, eager, django_capture_on_commit_callbacks
):
    patient, identity_id, aal2_id = ias_ready()
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            f"/medical/v1/network/query?patientId={patient['id']}&purposeOfUse=ias",
            {"sources": ["hie", "pharmacy", "lab"], "proofedIdentityId": identity_id},
            headers={"x-aal2-session": aal2_id},
        )
    types = [json.loads(r["raw"])["meta"]["type"] for r in receiver.requests]
    assert types == [
        "network-query.hie.first-data-ready",
        "network-query.hie",
        "network-query.pharmacy",
        "network-query.lab",
    ]
    for got in receiver.requests:
        assert got["headers"]["x-metriport-signature"] == expected_signature(got["raw"])
