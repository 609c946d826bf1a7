"""The sweeper: stored-but-unprocessed events, quiet queries, hung queries, identity nudges, deletions."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from ias import identity, queries, sweeper
from ias.models import IdentityVerification, NetworkQuery, PatientDeletion, WebhookEvent
from ias.network import SourceChoice
from ias.queueing import producer_drop
from tests.ias.conftest import aal2_passed, linked, verified
from tests.ias.fakes import post_webhook, source_event
from tests.ias.helpers import store

pytestmark = pytest.mark.django_db


def age(model, seconds, **fields):
    then = timezone.now() - timedelta(seconds=seconds)
    model.objects.update(**{f: then for f in fields})


def test_unprocessed_events_are_re_enqueued_once_per_interval(no_enqueue):
    event = store(source_event("hie", patient_id="p", request_id="r"))
    assert sweeper.sweep_run()["events"] == 0  # too fresh: its own enqueue is still on the way
    age(WebhookEvent, 120, received_at=True)
    assert sweeper.sweep_run()["events"] == 1
    assert no_enqueue == [("ias.event_process", {"event_id": event.pk})]
    assert sweeper.sweep_run()["events"] == 0  # just sent
    age(WebhookEvent, 120, last_enqueued_at=True)
    assert sweeper.sweep_run()["events"] == 1


def test_leased_and_finished_events_are_left_alone(no_enqueue):
    leased = store(source_event("hie", patient_id="p", request_id="r"))
    done = store(source_event("lab", patient_id="p", request_id="r"))
    age(WebhookEvent, 120, received_at=True)
    WebhookEvent.objects.filter(pk=leased.pk).update(claimed_until=timezone.now() + timedelta(minutes=5))
    WebhookEvent.objects.filter(pk=done.pk).update(status="processed")
    assert sweeper.sweep_run()["events"] == 0


def test_quiet_query_is_polled_and_finished_from_the_poll(mfa_user, network, no_enqueue):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=True))
    age(NetworkQuery, 600, last_activity_at=True)
    assert sweeper.sweep_run()["polled"] == 1
    assert no_enqueue == [("ias.query_poll", {"query_id": query.pk})]
    network.on(
        "GET",
        "/medical/v1/network/query/",
        httpx.Response(
            200,
            json={
                "requestId": query.request_id,
                "status": "partial",
                "sources": [{"type": "hie", "status": "completed"}, {"type": "lab", "status": "failed"}],
                "errors": [],
            },
        ),
    )
    queries.query_poll(query_id=query.pk)
    query.refresh_from_db()
    assert query.status == "partial"
    assert query.sources.get(source_type="lab").reason
    # The hie webhook never came: the record is fetched through a consolidated query instead.
    assert query.sources.get(source_type="hie").records == "awaiting"
    assert NetworkQuery.objects.filter(kind="consolidated", parent=query).exists()


def test_hung_query_times_out_into_a_visible_state(mfa_user, network, no_enqueue, settings):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=False, lab=False))
    age(NetworkQuery, settings.IAS_QUERY_TIMEOUT_SECONDS + 60, created_at=True)
    assert sweeper.sweep_run()["timed_out"] == 1
    query.refresh_from_db()
    assert query.status == "timed_out"
    assert query.sources.get().status == "timed_out"


def test_pending_identity_is_nudged(user, network, no_enqueue):
    linked(user, "pat_1")
    verification = identity.identity_session_start(user=user)
    age(IdentityVerification, 120, created_at=True)
    assert sweeper.sweep_run()["identities"] == 1
    assert ("ias.identity_poll", {"verification_id": verification.pk}) in no_enqueue
    identity.identity_poll(verification_id=verification.pk)
    assert network.calls_to("POST", "/settings/webhook/retry")


def test_pending_deletions_are_retried(no_enqueue):
    deletion = PatientDeletion.objects.create(network_patient_id="pat_x", facility_id="f")
    assert sweeper.sweep_run()["deletions"] == 1
    assert ("ias.patient_delete_at_network", {"deletion_id": deletion.pk}) in no_enqueue


def _reset_connections(app):
    """Close the broker connections made so far and drop this thread's producer. Only a pool that
    was used is closed: a closed pool stays in kombu's registry for its URL, where every later
    publish to that URL through Celery's pool would find it."""
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    producer_drop()


def test_broker_down_when_webhooks_arrive_then_the_sweep_catches_up(
    client, user, ingested, settings, django_capture_on_commit_callbacks
):
    """Point the broker at a closed port: webhooks are still acknowledged and kept; once the broker
    is back (here: eager execution), one sweep processes every one of them."""
    from portal.celery import app

    linked(user, "pat_1")
    old = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app.conf.broker_transport_options = {"max_retries": 0}
    _reset_connections(app)
    try:
        for source in ("hie", "pharmacy", "lab"):
            with django_capture_on_commit_callbacks(execute=True):
                response = post_webhook(client, source_event(source, patient_id="pat_1", request_id="req_1"))
            assert response.status_code == 200
        assert WebhookEvent.objects.filter(status="pending").count() == 3
    finally:
        app.conf.broker_url = old[0]
        app.conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        _reset_connections(app)
    app.conf.task_always_eager = True
    try:
        age(WebhookEvent, 120, received_at=True)
        assert sweeper.sweep_run()["events"] == 3
    finally:
        app.conf.task_always_eager = old[1]
    assert WebhookEvent.objects.filter(status="processed").count() == 3
    assert NetworkQuery.objects.get(request_id="req_1").status == "completed"
