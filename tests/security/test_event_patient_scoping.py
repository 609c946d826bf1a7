"""Item 4 of issue 12: a signed event names a patient; every lookup it makes (requestId -> query,
sessionId -> identity session) is scoped to that patient. A mismatch is recorded on the event and
changes nothing."""

import pytest
from django.utils import timezone

from accounts.models import User
from ias.models import IdentityVerification, NetworkQuery, QuerySource, WebhookEvent
from tests.ias.conftest import ingested, linked, network, no_enqueue  # noqa: F401  (fixtures)
from tests.ias.fakes import consolidated_event, envelope, source_event
from tests.ias.helpers import deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    made = {}
    for name in ("b", "c", "e"):
        person = User.objects.create_user(email=f"{name}@example.com", password="x" * 12)
        linked(person, f"pat_{name}")
        made[name] = person
    return made


def _finished_query(user, request_id: str) -> NetworkQuery:
    query = NetworkQuery.objects.create(
        user=user, request_id=request_id, status=NetworkQuery.Status.COMPLETED, completed_at=timezone.now()
    )
    QuerySource.objects.create(query=query, source_type="hie", status=QuerySource.Status.COMPLETED)
    return query


def _unchanged(query: NetworkQuery) -> None:
    fresh = NetworkQuery.objects.get(pk=query.pk)
    assert fresh.status == NetworkQuery.Status.COMPLETED
    assert fresh.completed_at is not None
    assert list(fresh.sources.values_list("source_type", "status")) == [("hie", "completed")]


def test_a_source_event_for_c_cannot_reopen_bs_query(people, ingested, no_enqueue):  # noqa: F811
    query = _finished_query(people["b"], "req_b")
    event = deliver(source_event("pharmacy", patient_id="pat_c", request_id="req_b", status="processing"))
    _unchanged(query)
    assert event.status == WebhookEvent.Status.IGNORED
    assert "another person" in event.outcome
    assert not ingested.calls
    assert not NetworkQuery.objects.filter(user=people["c"]).exists()


def test_a_first_data_event_for_c_cannot_reopen_bs_query(people, ingested, no_enqueue):  # noqa: F811
    query = _finished_query(people["b"], "req_b")
    deliver(
        envelope(
            "network-query.lab.first-data-ready",
            request_id="req_b",
            payload={"patientId": "pat_c", "source": {"type": "lab", "status": "processing"}},
        )
    )
    _unchanged(query)


def test_a_consolidated_event_for_c_cannot_touch_bs_query(people, ingested, no_enqueue):  # noqa: F811
    query = NetworkQuery.objects.create(
        user=people["b"], kind=NetworkQuery.Kind.CONSOLIDATED, request_id="cq_b", status="processing"
    )
    event = deliver(consolidated_event(patient_id="pat_c", request_id="cq_b"))
    query.refresh_from_db()
    assert query.status == "processing"
    assert not ingested.calls
    assert "another person" in event.outcome


def test_a_query_ref_of_b_with_a_fresh_request_id_is_not_bound(people, ingested, no_enqueue):  # noqa: F811
    query = NetworkQuery.objects.create(user=people["b"], status="processing")
    data = {"homeportQueryId": str(query.public_id)}
    deliver(source_event("hie", patient_id="pat_c", request_id="req_new", data=data))
    query.refresh_from_db()
    assert query.request_id is None


def test_identity_verified_for_c_naming_es_session_does_not_verify_e(people, no_enqueue):  # noqa: F811
    pending = IdentityVerification.objects.create(user=people["e"], session_id="ids_e")
    event = deliver(
        envelope(
            "ias.identity.verified",
            payload={"patientId": "pat_c", "sessionId": "ids_e", "proofedIdentityId": "pid_c"},
        )
    )
    pending.refresh_from_db()
    assert pending.status == IdentityVerification.Status.PENDING
    assert pending.proofed_identity_id == ""
    assert event.status == WebhookEvent.Status.IGNORED
    assert "another person" in event.outcome
    assert not IdentityVerification.objects.filter(user=people["c"], status="verified").exists()


def test_an_event_for_the_right_person_still_applies(people, ingested, no_enqueue):  # noqa: F811
    query = NetworkQuery.objects.create(user=people["b"], request_id="req_b2", status="processing")
    QuerySource.objects.create(query=query, source_type="hie", status="processing")
    event = deliver(source_event("hie", patient_id="pat_b", request_id="req_b2"))
    query.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert query.status == NetworkQuery.Status.COMPLETED
