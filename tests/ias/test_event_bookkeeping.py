"""An event's lease and its processed mark commit without waiting for the disk; its storing does not."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ias import webhooks
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
    assert statements(claim) == ["BEGIN", ASYNC, "UPDATE", "COMMIT", "SELECT"]
    assert synchronous_commit() == "on"  # what a handler commits next is durable again

    with CaptureQueriesContext(connection) as finish:
        webhooks.event_finish(event_id=event.pk, status="processed", outcome="done")
    assert statements(finish) == ["BEGIN", ASYNC, "UPDATE", "COMMIT"]
    assert synchronous_commit() == "on"
    assert WebhookEvent.objects.get(pk=event.pk).status == "processed"


def test_the_stored_delivery_itself_commits_durably():
    with CaptureQueriesContext(connection) as store:
        pending_event("m-durable")
    assert ASYNC not in [q["sql"] for q in store.captured_queries]


def test_inside_a_callers_transaction_its_durability_is_left_alone():
    event = pending_event("m-in-atomic")
    with transaction.atomic():
        webhooks.event_claim(event_id=event.pk)
        webhooks.event_finish(event_id=event.pk, status="processed", outcome="done")
        assert synchronous_commit() == "on"


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
