"""`/webhooks/particle/`: verify, store once per CloudEvents id with network "particle", answer."""

import json
import time

import pytest

from ias.models import WebhookEvent
from ias.particle_webhook import signature_header
from tests.sandbox.particle_examples import EVENT_TRANSITION, EVENT_V1, EVENT_V2

SECRET = "particle-endpoint-secret"
URL = "/webhooks/particle/"
CT = "application/cloudevents+json"


@pytest.fixture(autouse=True)
def secret(settings):
    settings.PARTICLE_WEBHOOK_SECRET = SECRET
    settings.CELERY_TASK_ALWAYS_EAGER = False


def post(client, body, *, signature=None, content_type=CT):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = signature_header(raw=raw, secret=SECRET, timestamp=int(time.time())) if signature is None else signature
    return client.post(URL, raw, content_type=content_type, headers={"X-Ph-Signature-256": header})


@pytest.mark.django_db
@pytest.mark.parametrize("example", [EVENT_V2, EVENT_V1], ids=["v2", "v1"])
def test_a_signed_query_event_is_stored_once(client, example):
    assert post(client, example).json() == {"status": "stored"}
    assert post(client, example).json() == {"status": "duplicate"}
    (row,) = WebhookEvent.objects.all()
    data = example["data"]
    assert (row.network, row.message_id, row.event_type) == ("particle", example["id"], example["type"])
    assert row.request_id == f"{data['patient_id']}:{data['query_id']}"
    assert row.network_patient_id == data["patient_id"]


@pytest.mark.django_db
def test_the_same_id_from_metriport_is_another_event(client):
    WebhookEvent.objects.create(network="metriport", message_id=str(EVENT_V2["id"]), event_type="ping")
    assert post(client, EVENT_V2).json() == {"status": "stored"}


@pytest.mark.django_db
def test_other_particle_types_are_stored_for_staff(client):
    assert post(client, EVENT_TRANSITION).status_code == 200
    assert WebhookEvent.objects.get().request_id == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"signature": ""}, 401),
        ({"signature": f"t={int(time.time())},{'0' * 64}"}, 401),
        ({"signature": f"t={int(time.time()) - 3600},{'0' * 64}"}, 401),
        ({"content_type": "text/plain"}, 415),
    ],
)
def test_refusals_store_nothing(client, kwargs, status):
    response = post(client, EVENT_V2, **kwargs)
    assert response.status_code == status and response.json()["error"]
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_malformed_bodies_are_400(client):
    assert post(client, b"{nope").status_code == 400
    assert post(client, {**EVENT_V2, "specversion": "0.3"}).status_code == 400
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_a_body_over_the_limit_is_413(client, settings):
    settings.IAS_WEBHOOK_MAX_BYTES = 100
    assert post(client, EVENT_V2).status_code == 413


def test_get_is_refused(client):
    assert client.get(URL).status_code == 405
