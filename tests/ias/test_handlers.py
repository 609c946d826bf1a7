"""Event handlers: every type, duplicates, out-of-order delivery, expired links, give-up."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ias import identity, patients, queries, queueing, webhooks
from ias.models import IdentityVerification, NetworkPatient, NetworkQuery, WebhookEvent
from ias.network import NetworkTransientError, SourceChoice
from records.errors import BundleDownloadError, BundleLinkExpired
from tests.ias.conftest import aal2_passed, linked, verified
from tests.ias.fakes import consolidated_event, envelope, source_event
from tests.ias.helpers import deliver, store

pytestmark = pytest.mark.django_db


def start_query(user, network, sources=("hie", "pharmacy", "lab")):
    aal2_passed(user)
    return queries.network_query_start(
        user=user, sources=SourceChoice(**{s: s in sources for s in ("hie", "pharmacy", "lab")})
    )


# --- identity ---------------------------------------------------------------------------------


def test_identity_verified_marks_the_session_verified(user, network, no_enqueue):
    linked(user, "pat_1")
    verification = identity.identity_session_start(user=user)
    event = deliver(
        envelope(
            "ias.identity.verified",
            request_id=verification.session_id,
            payload={
                "patientId": "pat_1",
                "sessionId": verification.session_id,
                "proofedIdentityId": "pid_1",
            },
        )
    )
    verification.refresh_from_db()
    assert event.status == WebhookEvent.Status.PROCESSED
    assert verification.status == IdentityVerification.Status.VERIFIED
    assert verification.proofed_identity_id == "pid_1"


def test_identity_webhook_before_the_session_row_exists(user, no_enqueue):
    linked(user, "pat_1")
    deliver(
        envelope(
            "ias.identity.verified",
            payload={"patientId": "pat_1", "sessionId": "ids_early", "proofedIdentityId": "pid_9"},
        )
    )
    assert IdentityVerification.objects.get(session_id="ids_early").status == "verified"


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("ias.identity.failed", "failed"),
        ("ias.identity.expired", "expired"),
        ("ias.something-else", "failed"),
    ],
)
def test_other_ias_types_mean_not_verified(user, network, no_enqueue, event_type, expected):
    linked(user, "pat_1")
    verification = identity.identity_session_start(user=user)
    deliver(envelope(event_type, payload={"patientId": "pat_1", "sessionId": verification.session_id}))
    verification.refresh_from_db()
    assert verification.status == expected


def test_a_late_failure_does_not_undo_a_verified_identity(user, no_enqueue):
    linked(user, "pat_1")
    deliver(
        envelope(
            "ias.identity.verified",
            payload={"patientId": "pat_1", "sessionId": "s", "proofedIdentityId": "pid"},
        )
    )
    deliver(envelope("ias.identity.failed", payload={"patientId": "pat_1", "sessionId": "s"}))
    assert IdentityVerification.objects.get(session_id="s").status == "verified"


# --- network query sources ---------------------------------------------------------------------------


def test_source_completed_ingests_the_linked_bundle(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    event = deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, url="https://b.test/1"))
    assert event.status == WebhookEvent.Status.PROCESSED
    assert ingested.calls == [
        {
            "user_id": mfa_user.pk,
            "url": "https://b.test/1",
            "network_source": "hie",
            "request_id": query.request_id,
            "patient_id": "pat_1",
            "network": "metriport",
        }
    ]
    hie = query.sources.get(source_type="hie")
    assert (hie.status, hie.records) == ("completed", "fetched")
    query.refresh_from_db()
    assert query.status == "processing"


def test_all_sources_done_completes_the_query(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    for i, source in enumerate(["hie", "pharmacy", "lab"]):
        deliver(source_event(source, patient_id="pat_1", request_id=query.request_id, when=f"2026-01-01T10:00:0{i}Z"))
    query.refresh_from_db()
    assert query.status == NetworkQuery.Status.COMPLETED
    assert len(ingested.calls) == 3


def test_failed_source_shows_a_plain_reason_and_query_is_partial(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie", "lab"))
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, when="2026-01-01T10:00:00Z"))
    deliver(
        source_event(
            "lab",
            patient_id="pat_1",
            request_id=query.request_id,
            status="failed",
            when="2026-01-01T10:00:01Z",
        )
    )
    lab = query.sources.get(source_type="lab")
    assert lab.status == "failed"
    assert "problem" in lab.reason
    query.refresh_from_db()
    assert query.status == NetworkQuery.Status.PARTIAL


def test_first_data_ready_records_partial_data_and_keeps_processing(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    body = source_event("hie", patient_id="pat_1", request_id=query.request_id)
    body["meta"]["type"] = "network-query.hie.first-data-ready"
    body["payload"]["source"] = {
        "type": "hie",
        "status": "processing",
        "firstDataReadyAt": "2026-01-01T10:00:00Z",
    }
    deliver(body)
    hie = query.sources.get()
    assert hie.status == "processing"
    assert hie.first_data_at is not None
    assert hie.records == "fetched"
    assert len(ingested.calls) == 1


def test_response_errors_become_refused_rows(mfa_user, network, no_enqueue):
    verified(mfa_user, "pat_1")
    network.query_sources = ["hie"]
    network.query_errors = [
        {
            "source": "pharmacy",
            "httpStatus": 403,
            "message": "not enabled",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        {"source": "lab", "httpStatus": 429, "message": "rate limited", "timestamp": "2026-01-01T00:00:00Z"},
    ]
    query = start_query(mfa_user, network)
    rows = {s.source_type: s for s in query.sources.all()}
    assert rows["hie"].status == "processing"
    assert rows["pharmacy"].status == "refused"
    assert "not available" in rows["pharmacy"].reason
    assert rows["lab"].status == "refused"
    assert "busy" in rows["lab"].reason
    assert rows["lab"].network_message == "rate limited"


def test_source_webhook_before_the_query_response_is_merged(mfa_user, network, ingested, no_enqueue):
    """The webhook for req_early is processed while the start call has not returned yet."""
    verified(mfa_user, "pat_1")
    import httpx

    def start(request):
        deliver(source_event("hie", patient_id="pat_1", request_id="req_early", url="https://b.test/early"))
        return httpx.Response(
            200,
            json={
                "requestId": "req_early",
                "status": "processing",
                "sources": [{"type": "hie", "status": "processing"}, {"type": "lab", "status": "processing"}],
                "errors": [],
            },
        )

    network.on("POST", "/medical/v1/network/query", start)
    query = start_query(mfa_user, network, sources=("hie", "lab"))
    assert NetworkQuery.objects.filter(user=mfa_user).count() == 1
    assert query.request_id == "req_early"
    hie = query.sources.get(source_type="hie")
    assert (hie.status, hie.records) == ("completed", "fetched")  # the late "processing" did not undo it


def test_metadata_ref_finds_the_query_when_request_id_is_not_stored_yet(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    NetworkQuery.objects.filter(pk=query.pk).update(request_id=None)
    deliver(
        source_event("hie", patient_id="pat_1", request_id="req_new", data={"homeportQueryId": str(query.public_id)})
    )
    query.refresh_from_db()
    assert query.request_id == "req_new"
    assert query.status == "completed"


def test_the_same_event_processed_twice_has_one_effect(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    webhooks.event_process(event_id=event.pk)
    webhooks.event_process(event_id=event.pk)
    assert len(ingested.calls) == 1
    event.refresh_from_db()
    assert event.attempts == 1


def test_redelivery_after_a_crash_does_not_ingest_again(mfa_user, network, ingested, no_enqueue):
    """Worker died after the ingest but before marking the event: the rerun skips the bundle."""
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    webhooks.event_process(event_id=event.pk)
    WebhookEvent.objects.filter(pk=event.pk).update(status="pending", claimed_until=None)
    webhooks.event_process(event_id=event.pk)
    assert len(ingested.calls) == 1
    assert query.sources.get(source_type="hie").records == "fetched"


def test_an_older_bundle_arriving_late_is_not_ingested(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    deliver(source_event("lab", patient_id="pat_1", request_id=query.request_id, when="2026-01-01T10:05:00Z"))
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, when="2026-01-01T10:01:00Z"))
    assert [c["network_source"] for c in ingested.calls] == ["lab"]
    hie = query.sources.get(source_type="hie")
    assert (hie.status, hie.records) == ("completed", "skipped")


def test_a_held_lease_makes_a_second_runner_back_off(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    webhooks.event_claim(event_id=event.pk)
    with pytest.raises(webhooks.EventBusy):
        webhooks.event_process(event_id=event.pk)
    assert ingested.calls == []


def test_an_expired_lease_is_taken_over_and_a_settled_event_is_left_alone(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network)
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    first = webhooks.event_claim(event_id=event.pk)
    assert first is not None and first.attempts == 1
    WebhookEvent.objects.filter(pk=event.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    second = webhooks.event_claim(event_id=event.pk)
    assert second is not None and second.attempts == 2
    assert second.claimed_until is not None and second.claimed_until > timezone.now()
    webhooks.event_finish(event_id=event.pk, status="processed", outcome="done")
    webhooks.event_finish(event_id=event.pk, status="failed", outcome="late")
    assert webhooks.event_claim(event_id=event.pk) is None
    event.refresh_from_db()
    assert (event.status, event.outcome, event.claimed_until, event.attempts) == ("processed", "done", None, 2)


def test_expired_link_starts_a_consolidated_query_and_finishes_from_its_webhook(
    mfa_user, network, ingested, no_enqueue
):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    ingested.fail = [BundleLinkExpired()]
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, when="2026-01-01T10:00:00Z"))
    hie = query.sources.get()
    assert (hie.status, hie.records) == ("completed", "awaiting")
    consolidated = NetworkQuery.objects.get(kind="consolidated")
    assert consolidated.parent_id == query.pk
    assert network.calls_to("POST", "/medical/v1/patient/pat_1/consolidated/query")
    assert consolidated.request_id is not None
    deliver(
        consolidated_event(
            patient_id="pat_1",
            request_id=consolidated.request_id,
            url="https://b.test/cons",
            when="2026-01-01T10:01:00Z",
        )
    )
    assert ingested.calls[-1]["url"] == "https://b.test/cons"
    assert ingested.calls[-1]["network_source"] == "consolidated"
    assert query.sources.get().records == "fetched"
    consolidated.refresh_from_db()
    assert consolidated.status == "completed"


def test_consolidated_data_for_an_old_query_does_not_replace_newer_records(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id, when="2026-01-02T00:00:00Z"))
    event = deliver(consolidated_event(patient_id="pat_1", request_id="cq_from_last_year", when="2025-01-01T00:00:00Z"))
    assert event.status == "processed"
    assert [c["network_source"] for c in ingested.calls] == ["hie"]
    assert NetworkQuery.objects.get(request_id="cq_from_last_year").status == "completed"


def test_empty_consolidated_bundle_means_no_data(mfa_user, network, ingested, no_enqueue):
    linked(mfa_user, "pat_1")
    event = deliver(consolidated_event(patient_id="pat_1", request_id="cq_1", url=""))
    assert event.status == "processed"
    assert "empty" in event.outcome
    assert ingested.calls == []


def test_transient_download_error_is_retried_then_succeeds(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    ingested.fail = [BundleDownloadError("timeout", transient=True)]
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    with pytest.raises(BundleDownloadError):
        webhooks.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert (event.status, event.claimed_until, event.attempts) == ("pending", None, 1)
    assert "BundleDownloadError" in event.last_error
    webhooks.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == "processed"
    assert len(ingested.calls) == 1


def test_permanent_download_error_marks_records_failed_but_event_processed(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    ingested.fail = [BundleDownloadError("not a bundle", transient=False)]
    event = deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    assert event.status == "processed"
    assert query.sources.get().records == "failed"


def test_gives_up_into_a_visible_failed_state(mfa_user, network, ingested, no_enqueue, settings):
    settings.IAS_EVENT_MAX_ATTEMPTS = 2
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    ingested.fail = [BundleDownloadError("x", transient=True), BundleDownloadError("x", transient=True)]
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    for _ in range(2):
        with pytest.raises(BundleDownloadError):
            webhooks.event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert event.last_error


def test_task_retries_transient_errors_with_backoff(mfa_user, network, ingested, no_enqueue, monkeypatch):
    from celery.exceptions import Retry

    from ias import tasks

    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))

    def raise_transient(**kwargs):
        raise NetworkTransientError("x", retry_after=30)

    monkeypatch.setattr("ias.delivery.records_ingest_from_url", raise_transient)
    seen = {}

    def fake_retry(self, countdown=None, **kwargs):
        seen["countdown"] = countdown
        return Retry("retry", when=countdown)

    monkeypatch.setattr("celery.app.task.Task.retry", fake_retry)
    with pytest.raises(Retry):
        tasks.event_process.run(event_id=event.pk)
    assert 30 <= seen["countdown"] <= 35


def test_backoff_grows_and_is_jittered():
    values = [queueing.backoff_seconds(n) for n in range(1, 8)]
    assert all(2.5 <= values[0] <= 7.5 for _ in [0])
    assert values[-1] > values[0]
    assert queueing.backoff_seconds(50) <= 900


# --- documents, unknown, forgotten -------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type",
    ["medical.document-download", "medical.document-conversion", "medical.document-bulk-download-urls"],
)
def test_document_events_are_noted(user, no_enqueue, event_type):
    linked(user, "pat_1")
    event = deliver(
        envelope(
            event_type,
            patients=[{"patientId": "pat_1", "status": "completed", "documents": [{"id": "d1"}, {"id": "d2"}]}],
        )
    )
    assert event.status == "processed"
    assert "2 documents" in event.outcome


def test_bulk_patient_create_is_noted(no_enqueue):
    event = deliver(
        envelope("medical.bulk-patient-create", bulkPatientCreate={"requestId": "b", "status": "completed"})
    )
    assert (event.status, event.outcome) == ("processed", "bulk patient create completed")


def test_unknown_type_is_ignored(no_enqueue):
    assert deliver(envelope("brand.new.type")).status == "ignored"


def test_event_for_an_unknown_patient_is_ignored(no_enqueue, ingested):
    event = deliver(source_event("hie", patient_id="pat_nobody", request_id="r"))
    assert event.status == "ignored"
    assert ingested.calls == []


def test_event_for_a_forgotten_patient_keeps_no_body(user, network, no_enqueue):
    linked(user, "pat_gone")
    patients.network_patient_forget(user_id=user.pk)
    event = deliver(source_event("hie", patient_id="pat_gone", request_id="r"))
    assert event.status == "ignored"
    assert bytes(event.body_encrypted) == b""
    assert not NetworkPatient.objects.filter(patient_id="pat_gone").exists()


def test_query_timeout_marks_unfinished_sources(mfa_user, network, no_enqueue, ingested):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie", "lab"))
    deliver(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    queries.query_time_out(query_id=query.pk)
    lab = query.sources.get(source_type="lab")
    assert lab.status == "timed_out"
    assert "did not answer" in lab.reason
    query.refresh_from_db()
    assert query.status in ("partial", "timed_out")
    assert query.failure_reason
    assert timezone.now() - query.completed_at < timedelta(minutes=1)
