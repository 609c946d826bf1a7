"""An event's lease and its processed mark commit without waiting for the disk; its storing does not."""

from unittest import mock

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ias import webhooks
from ias.commits import UNSYNCED
from ias.models import WebhookEvent

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="asynchronous commit is PostgreSQL's"),
]

ASYNC = "SET LOCAL synchronous_commit TO OFF"


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda *args, **kwargs: None)


def pending_event(message_id: str) -> WebhookEvent:
    raw = b'{"meta": {"messageId": "%s", "type": "brand.new.type"}}' % message_id.encode()
    event, created = webhooks.event_store(raw=raw, envelope=webhooks.envelope_read(raw))
    assert created and event is not None
    return event


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split(" ", 1)[0] if q["sql"] != ASYNC else ASYNC for q in captured.captured_queries]


def test_the_claim_and_the_settling_commit_asynchronously_and_the_setting_ends_with_them():
    event = pending_event("m-bookkeeping")

    with CaptureQueriesContext(connection) as claim:
        claimed = webhooks.event_claim(event_id=event.pk)
    assert claimed is not None and claimed.attempts == 1
    assert statements(claim) == ["UPDATE"]  # the setting rides in it: no BEGIN, SET LOCAL, COMMIT
    assert UNSYNCED in claim.captured_queries[0]["sql"]
    assert synchronous_commit() == "on"  # what a handler commits next is durable again

    with CaptureQueriesContext(connection) as finish:
        webhooks.event_finish(event_id=event.pk, status="processed", outcome="done")
    assert statements(finish) == ["UPDATE"]
    assert UNSYNCED in finish.captured_queries[0]["sql"]
    assert synchronous_commit() == "on"
    assert WebhookEvent.objects.get(pk=event.pk).status == "processed"


def test_the_stored_delivery_itself_commits_durably():
    with CaptureQueriesContext(connection) as store:
        pending_event("m-durable")
    assert not [q for q in store.captured_queries if ASYNC in q["sql"] or UNSYNCED in q["sql"]]


def test_inside_a_callers_transaction_its_durability_is_left_alone():
    event = pending_event("m-in-atomic")
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        webhooks.event_claim(event_id=event.pk)
        webhooks.event_finish(event_id=event.pk, status="processed", outcome="done")
        assert synchronous_commit() == "on"
    assert not [q for q in captured.captured_queries if ASYNC in q["sql"] or UNSYNCED in q["sql"]]


def test_a_failed_handler_is_recorded_over_its_claim(monkeypatch):
    """The release after a failure still sees the claim it made (the asynchronous commit is a
    commit: visible at once to every session, only its flush to disk is deferred)."""
    event = pending_event("m-release")
    monkeypatch.setattr(webhooks, "handler_for", lambda _type: lambda *_args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        webhooks.event_process(event_id=event.pk)
    row = WebhookEvent.objects.get(pk=event.pk)
    assert (row.status, row.attempts, row.claimed_until) == ("pending", 1, None)
    assert row.last_error.startswith("ZeroDivisionError")


def test_the_claim_is_the_tasks_first_statement_without_a_health_check():
    """A task starts with its connections tidied (the health check due again): the claim does not
    spend a round trip on `SELECT 1` first."""
    event = pending_event("m-no-health-check")
    connection.health_check_done = False  # type: ignore[attr-defined]  # as at the start of the next task
    with CaptureQueriesContext(connection) as claim, mock.patch.dict(connection.settings_dict, CONN_HEALTH_CHECKS=True):
        assert webhooks.event_claim(event_id=event.pk) is not None
    assert statements(claim) == ["UPDATE"]


def test_a_claim_on_a_dropped_connection_is_taken_on_a_new_one():
    event = pending_event("m-claim-after-drop")
    backend = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    connection.health_check_done = False  # type: ignore[attr-defined]  # as at the start of the next task

    with mock.patch.dict(connection.settings_dict, CONN_HEALTH_CHECKS=True):
        claimed = webhooks.event_claim(event_id=event.pk)

    assert claimed is not None and claimed.attempts == 1
    assert connection.connection.info.backend_pid != backend


def test_the_claimed_row_is_the_row_as_claimed():
    event = pending_event("m-claimed-row")
    claimed = webhooks.event_claim(event_id=event.pk)
    stored = WebhookEvent.objects.get(pk=event.pk)
    assert claimed is not None
    assert [getattr(claimed, f.attname) for f in WebhookEvent._meta.concrete_fields] == [
        getattr(stored, f.attname) for f in WebhookEvent._meta.concrete_fields
    ]


def test_a_lost_claim_says_how_long_the_lease_still_runs():
    event = pending_event("m-busy")
    webhooks.event_claim(event_id=event.pk)
    with pytest.raises(webhooks.EventBusy) as busy:
        webhooks.event_claim(event_id=event.pk)
    assert busy.value.retry_in > 0
    assert WebhookEvent.objects.get(pk=event.pk).attempts == 1
    webhooks.event_finish(event_id=event.pk, status="processed", outcome="done")
    assert webhooks.event_claim(event_id=event.pk) is None
