"""A Particle notification from the sandbox, through the door and the event machinery, into the record."""

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from ias import particle, webhooks
from ias.models import NetworkPatient, NetworkQuery, QuerySource, WebhookEvent
from ias.network import (
    Address,
    NetworkPermanentError,
    NetworkTransientError,
    PatientDetails,
    QueryRequest,
    network_for,
)
from ias.particle_webhook import signature_header
from records.models import Resource, Snapshot
from sandbox import particle as sandbox_particle
from sandbox.models import Fault, ParticlePatient, WebhookDelivery
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


def test_particles_c_cda_documents_are_documents_of_the_record_the_reader_shows(
    mfa_user, client_mfa, both, monkeypatch
):
    request_id, raw = finished_notification(mfa_user, monkeypatch)
    deliver(raw)
    event = WebhookEvent.objects.get(network="particle")
    webhooks.event_process(event_id=event.pk)
    documents = Resource.objects.filter(user=mfa_user, network="particle", resource_type="DocumentReference")
    patient_id = request_id.split(":", 1)[0]
    assert documents.count() == len(sandbox_particle.ccda_documents(ParticlePatient.objects.get(pk=patient_id)))
    document = documents.order_by("pk")[0]
    assert document.category == "documents" and document.clinical_date is not None and document.source_org
    listed = client_mfa.get(reverse("records:category", args=["documents"]))
    assert document.display in listed.content.decode()
    page = client_mfa.get(reverse("records:document_read", args=[document.pk, 0])).content.decode()
    assert "Allergies and Adverse Reactions" in page and "Penicillin G" in page
    saved = client_mfa.get(reverse("records:document", args=[document.pk, 0]))
    assert saved["Content-Disposition"].startswith("attachment;") and saved.content.startswith(b"<?xml")

    before = set(documents.values_list("resource_id", flat=True))
    assert webhooks.event_process(event_id=event.pk) == "nothing to do"
    from ias.particle_events import particle_records_fetch

    particle_records_fetch(user_id=mfa_user.pk, patient_id=patient_id, request_id=request_id)
    assert set(documents.filter(retired_at__isnull=True).values_list("resource_id", flat=True)) == before


def test_documents_refused_for_good_leave_the_fhir_records_saved(mfa_user, both, monkeypatch):
    def refuse(self, **kwargs):
        raise NetworkPermanentError("GET /api/v2/patients/{id}/ccda: HTTP 404", status=404)

    monkeypatch.setattr(particle.ParticleClient, "ccda_zip", refuse)
    _request_id, raw = finished_notification(mfa_user, monkeypatch)
    deliver(raw)
    assert webhooks.event_process(event_id=WebhookEvent.objects.get(network="particle").pk).endswith("records fetched")
    saved = Resource.objects.filter(user=mfa_user, network="particle")
    assert saved.count() > 10
    assert not saved.filter(resource_type="DocumentReference").exists()


def test_documents_that_fail_for_now_save_nothing_and_the_event_is_tried_again(mfa_user, both, monkeypatch):
    def unavailable(self, **kwargs):
        raise NetworkTransientError("GET /api/v2/patients/{id}/ccda: HTTP 503", status=503)

    monkeypatch.setattr(particle.ParticleClient, "ccda_zip", unavailable)
    request_id, raw = finished_notification(mfa_user, monkeypatch)
    deliver(raw)
    event = WebhookEvent.objects.get(network="particle")
    with pytest.raises(NetworkTransientError):
        webhooks.event_process(event_id=event.pk)
    assert not Resource.objects.filter(user=mfa_user).exists()
    assert QuerySource.objects.get(query__request_id=request_id).records == QuerySource.Records.NONE


def test_particles_snapshot_carries_the_search_it_is_part_of(mfa_user, both, monkeypatch):
    request_id, raw = finished_notification(mfa_user, monkeypatch)
    search = NetworkQuery.objects.create(user=mfa_user, network="metriport", request_id="metriport-search-1")
    NetworkQuery.objects.filter(request_id=request_id).update(parent=search)
    deliver(raw)
    webhooks.event_process(event_id=WebhookEvent.objects.get(network="particle").pk)
    assert Snapshot.objects.get(user=mfa_user, network="particle").request_id == "metriport-search-1"
