"""One person's journey with something of every kind, for the staff console tests."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from accounts.mail import email_send_record
from accounts.models import AccessLogEntry, EmailSent
from ias import patients, queries
from ias.models import NetworkPatient, NetworkQuery, QuerySource, WebhookEvent
from ias.network import Address, PatientDetails, SourceChoice
from records.models import Resource, Snapshot
from tests.ias.conftest import aal2_passed, consented
from tests.ias.fakes import source_event
from tests.ias.helpers import store

DETAILS = PatientDetails(
    first_name="Pat",
    last_name="Pharmacyfail",
    dob="1970-01-02",
    gender_at_birth="F",
    address=Address(line1="1 Main St", city="Springfield", state="IL", zip="62704"),
)
REASON = "Investigating a failed or stuck request"


@dataclass
class Story:
    link: NetworkPatient
    query: NetworkQuery
    failed_source: QuerySource
    event: WebhookEvent
    snapshot: Snapshot
    resource: Resource
    email: EmailSent


def person_story(user, *, network) -> Story:
    """Consent, details (through the real service, so the name is indexed), identity, AAL2, a query
    whose pharmacy failed, a failed webhook event, a snapshot with one resource, an email, a self view."""
    from ias.models import IdentityVerification

    consented(user)
    link = patients.network_patient_save(user=user, details=DETAILS)
    IdentityVerification.objects.create(
        user=user,
        session_id=f"ids_{link.patient_id}",
        status="verified",
        proofed_identity_id=f"pid_{link.patient_id}",
        verified_at=timezone.now(),
    )
    aal2_passed(user)
    query = queries.network_query_start(user=user, sources=SourceChoice(hie=True, pharmacy=True, lab=True))
    failed_source = query.sources.get(source_type="pharmacy")
    QuerySource.objects.filter(pk=failed_source.pk).update(
        status=QuerySource.Status.FAILED, reason="The pharmacy network did not answer.", network_message="timeout"
    )
    assert link.patient_id is not None
    assert query.request_id is not None
    event = store(
        source_event("hie", patient_id=link.patient_id, request_id=query.request_id, url="https://b.test/hie.json")
    )
    WebhookEvent.objects.filter(pk=event.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=8, last_error="BundleDownloadError: answered 500"
    )
    snapshot = Snapshot.objects.create(
        user=user,
        network_source="hie",
        request_id=query.request_id,
        status=Snapshot.STATUS_COMPLETE,
        resource_count=1,
        created_count=1,
        counts_by_source={"hie": 1},
    )
    resource = Resource.objects.create(
        user=user,
        resource_type="Observation",
        resource_id="obs-1",
        raw={"resourceType": "Observation", "id": "obs-1", "code": {"text": "Hemoglobin A1c"}},
        content_hash="x",
        display="Hemoglobin A1c",
    )
    email = email_send_record(
        to_email=user.email,
        template_prefix="account/email/password_changed",
        subject="[Homeport] Password changed",
        user=user,
        context={"first_name": "Pat", "records_url": "https://portal.test/records/"},
    )
    AccessLogEntry.objects.create(actor=user, subject=user, action="records:summary")
    event.refresh_from_db()
    return Story(link, query, failed_source, event, snapshot, resource, email)


def give_reason(client, person, choice: str = REASON, details: str = "") -> None:
    response = client.post(
        reverse("admin:accounts_user_access_reason", args=[person.pk]),
        {"choice": choice, "details": details, "next": "/admin/"},
    )
    assert response.status_code == 302, response.content
