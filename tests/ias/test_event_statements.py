"""The last source's webhook is on the way to a person's records: what its processing costs in
statements and commits before the bundle is fetched and after it is saved."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ias import webhooks
from ias.commits import unsynced_atomic
from ias.models import NetworkQuery, QuerySource, WebhookEvent
from tests.ias.conftest import saved_snapshot, verified
from tests.ias.fakes import source_event
from tests.ias.helpers import store
from tests.ias.test_handlers import start_query

pytestmark = pytest.mark.django_db

# Claim, event apply with the "saving" mark, the look for a newer copy, the link; then the link's
# note and the records' mark that settles the query. The ingest itself is stubbed.
STATEMENTS_MAX = {"postgresql": 26, "sqlite": 25}


def test_the_last_source_event_costs_few_statements(mfa_user, network, no_enqueue, monkeypatch):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    seen: list[tuple[str, str]] = []

    def ingest(**kwargs):
        row = QuerySource.objects.get(query=query)
        seen.append((row.status, row.records))
        return saved_snapshot()

    monkeypatch.setattr("ias.delivery.records_ingest_from_url", ingest)
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    with CaptureQueriesContext(connection) as captured:
        webhooks.event_process(event_id=event.pk)
    statements = [q["sql"] for q in captured.captured_queries]
    assert seen == [("completed", "saving")]  # saving, as the source's answer was recorded
    query.refresh_from_db()
    assert query.settled_at is not None
    assert WebhookEvent.objects.get(pk=event.pk).status == WebhookEvent.Status.PROCESSED
    # One transaction records the source's answer and its "saving" mark (savepoints inside a test).
    assert sum(1 for sql in statements if sql.startswith("SAVEPOINT")) <= 3, statements
    assert len(statements) <= STATEMENTS_MAX[connection.vendor], "\n".join(statements)


def test_a_source_that_links_nothing_settles_as_its_answer_is_recorded(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id, url=""))
    webhooks.event_process(event_id=event.pk)
    row = query.sources.get()
    assert (row.status, row.records) == ("completed", "empty")
    assert NetworkQuery.objects.get(pk=query.pk).settled_at is not None
    assert ingested.calls == []


def test_a_fetched_source_is_not_marked_saving_again(mfa_user, network, ingested, no_enqueue):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie", "lab"))
    QuerySource.objects.filter(query=query, source_type="hie").update(records=QuerySource.Records.FETCHED)
    event = store(source_event("hie", patient_id="pat_1", request_id=query.request_id))
    seen = []
    ingested.fail = []
    original = type(ingested).__call__

    def call(self, **kwargs):
        seen.append(QuerySource.objects.get(query=query, source_type="hie").records)
        return original(self, **kwargs)

    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(type(ingested), "__call__", call)
    try:
        webhooks.event_process(event_id=event.pk)
    finally:
        monkeypatch.undo()
    assert seen == ["fetched"]


@pytest.mark.django_db(transaction=True)
def test_work_in_progress_commits_without_waiting_for_the_disk():
    with unsynced_atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()[0] == "off"
            assert connection.in_atomic_block
        else:
            assert not connection.in_atomic_block  # nothing to gain on SQLite: autocommit as before
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
