"""A Particle notification from the sandbox, through the door and the event machinery, into the record."""

import json
import time

import pytest
from django.test import Client

from ias import particle, webhooks
from ias.models import NetworkPatient, NetworkQuery, QuerySource, WebhookEvent
from ias.network import Address, PatientDetails, QueryRequest, network_for
from ias.particle_webhook import signature_header
from records.models import Resource, Snapshot
from sandbox import particle as sandbox_particle
from sandbox.models import Fault, WebhookDelivery
from tests.sandbox.particle_helpers import DjangoTransport, advance, particle_through_sandbox

pytestmark = pytest.mark.django_db
SECRET = "particle-events-secret"


@pytest.fixture
def both(settings):
    particle_through_sandbox(settings, webhook_secret=SECRET)
    settings.SANDBOX_PARTICLE_STATUS_404_SECONDS = 0.0
    settings.SANDBOX_RECORD_SIZE = 200
    settings.CELERY_TASK_ALWAYS_EAGER = False
    particle.use_transport(DjangoTransport())
    yield
    particle.use_transport(None)


def finished_notification(user, monkeypatch) -> tuple[str, bytes]:
    monkeypatch.setattr(sandbox_particle.tasks.particle_query_complete, "apply_async", lambda *a, **k: None)
    monkeypatch.setattr(sandbox_particle.tasks.webhook_deliver, "apply_async", lambda *a, **k: None)
    seam = network_for("particle")
    details = PatientDetails(
        first_name="Kam",
        last_name="Quark-Nucleus",
        dob="1954-12-01",
        gender_at_birth="F",
        address=Address(line1="999 Dev Drive", city="Brooklyn", state="NY", zip="11111"),
    )
    ref = seam.patient_register(facility_id="", details=details, external_id=f"hp-{user.pk}")
    NetworkPatient.objects.create(user=user, network="particle", patient_id=ref.patient_id)
    started = seam.query_start(request=QueryRequest(patient_id=ref.patient_id, sources=[], query_ref="r"))
    NetworkQuery.objects.create(user=user, network="particle", request_id=started.request_id)
    advance(started.request_id.split(":", 1)[1], to="finished")
    delivery = WebhookDelivery.objects.get(network="particle")
    return started.request_id, delivery.body.encode()


def deliver(raw: bytes):
    header = signature_header(raw=raw, secret=SECRET, timestamp=int(time.time()))
    return Client().post(
        "/webhooks/particle/", raw, content_type="application/cloudevents+json", headers={"X-Ph-Signature-256": header}
    )


def test_the_notification_finishes_the_query_and_brings_the_records_in(mfa_user, both, monkeypatch):
    request_id, raw = finished_notification(mfa_user, monkeypatch)
    assert deliver(raw).json() == {"status": "stored"}
    event = WebhookEvent.objects.get(network="particle")
    assert event.request_id == request_id
    assert webhooks.event_process(event_id=event.pk) == "all completed; records fetched"
    source = QuerySource.objects.get(query__request_id=request_id)
    assert (source.source_type, source.status, source.records) == ("all", "completed", "fetched")
    assert Resource.objects.filter(user=mfa_user, retired_at__isnull=True).count() > 10
    assert Snapshot.objects.get(user=mfa_user).network_source == "particle"
    assert webhooks.event_process(event_id=event.pk) == "nothing to do"
    assert deliver(raw).json() == {"status": "duplicate"}


def test_a_failed_query_is_a_failed_source_without_records(mfa_user, both, monkeypatch):
    Fault.objects.create(kind="query_fail")
    request_id, raw = finished_notification(mfa_user, monkeypatch)
    deliver(raw)
    event = WebhookEvent.objects.get(network="particle")
    assert webhooks.event_process(event_id=event.pk) == "all failed"
    assert QuerySource.objects.get(query__request_id=request_id).status == "failed"
    assert not Resource.objects.filter(user=mfa_user).exists()


def test_a_notification_for_nobody_we_know_is_ignored(mfa_user, both, monkeypatch):
    _request_id, raw = finished_notification(mfa_user, monkeypatch)
    NetworkPatient.objects.filter(network="particle").delete()
    deliver(raw)
    event = WebhookEvent.objects.get(network="particle")
    assert webhooks.event_process(event_id=event.pk) == "unknown patient"
    assert json.loads(raw)["type"] == "com.particlehealth.api.v2.query"


def test_polling_finishes_a_query_whose_notification_never_came(mfa_user, both, monkeypatch):
    from ias import queries

    request_id, _raw = finished_notification(mfa_user, monkeypatch)
    query = NetworkQuery.objects.get(request_id=request_id)
    polled = queries.query_poll(query_id=query.pk)
    assert polled.is_terminal
    source = QuerySource.objects.get(query=query)
    assert (source.source_type, source.status, source.records) == ("all", "completed", "fetched")
    assert Resource.objects.filter(user=mfa_user, retired_at__isnull=True).count() > 10
    assert not WebhookEvent.objects.exists()


def test_a_notification_before_its_query_row_makes_a_particle_placeholder(mfa_user, both, monkeypatch):
    request_id, raw = finished_notification(mfa_user, monkeypatch)
    NetworkQuery.objects.filter(request_id=request_id).delete()
    deliver(raw)
    webhooks.event_process(event_id=WebhookEvent.objects.get(network="particle").pk)
    placeholder = NetworkQuery.objects.get(request_id=request_id)
    assert (placeholder.network, placeholder.placeholder, placeholder.user_id) == ("particle", True, mfa_user.pk)
