"""The same event twice at the same time, at the endpoint and in the workers: one row, one effect."""

import threading
import time

import pytest
from django.db import connection

from ias import queries, webhooks
from ias.models import QuerySource, WebhookEvent
from ias.network import SourceChoice
from tests.ias.conftest import aal2_passed, saved_snapshot, verified
from tests.ias.fakes import post_webhook, source_event
from tests.ias.helpers import store

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(target, n=2):
    barrier = threading.Barrier(n)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(target())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results, errors


def test_same_message_posted_concurrently_is_stored_once(no_enqueue):
    from django.test import Client

    body = source_event("hie", patient_id="p", request_id="r", message_id="twice")
    results, errors = run_together(lambda: post_webhook(Client(), body).json()["status"], n=4)
    assert errors == []
    assert sorted(results) == ["duplicate", "duplicate", "duplicate", "stored"]
    assert WebhookEvent.objects.count() == 1


def test_same_event_processed_concurrently_has_one_effect(mfa_user, network, monkeypatch, no_enqueue):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice())
    assert query.request_id is not None
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    calls = []

    def slow_ingest(**kwargs):
        calls.append(kwargs)
        time.sleep(0.3)
        return saved_snapshot()

    monkeypatch.setattr("ias.delivery.records_ingest_from_url", slow_ingest)
    results, errors = run_together(lambda: webhooks.event_process(event_id=event.pk))
    assert len(calls) == 1
    assert len(results) + len(errors) == 2
    assert all(isinstance(e, webhooks.EventBusy) for e in errors)
    event.refresh_from_db()
    assert event.status == "processed"
    assert QuerySource.objects.get(query=query, source_type="hie").records == "fetched"


def test_two_source_events_for_one_query_concurrently_both_land(mfa_user, network, monkeypatch, no_enqueue):
    verified(mfa_user, "pat_1")
    aal2_passed(mfa_user)
    query = queries.network_query_start(user=mfa_user, sources=SourceChoice(hie=True, pharmacy=True, lab=False))
    assert query.request_id is not None
    monkeypatch.setattr("ias.delivery.records_ingest_from_url", lambda **kw: saved_snapshot())
    events = [
        store(source_event(s, patient_id="pat_1", request_id=query.request_id, when=f"2026-01-01T10:00:0{i}Z"))
        for i, s in enumerate(("hie", "pharmacy"))
    ]
    pending = list(events)
    _results, errors = run_together(lambda: webhooks.event_process(event_id=pending.pop().pk))
    assert errors == []
    query.refresh_from_db()
    assert query.status == "completed"
    assert WebhookEvent.objects.filter(status="processed").count() == 2
