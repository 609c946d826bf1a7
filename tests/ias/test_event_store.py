"""event_store's one INSERT ... ON CONFLICT DO NOTHING: once per (network, message id), every column written."""

import dataclasses

import psycopg
import pytest
from django.db import OperationalError, connection, transaction

from ias import webhooks
from ias.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    monkeypatch.setattr("celery.app.task.Task.apply_async", lambda *args, **kwargs: None)


def stored(message_id: str, network: str = "metriport") -> tuple[WebhookEvent | None, bool]:
    raw = b'{"meta": {"messageId": "%s", "type": "network-query.hie"}}' % message_id.encode()
    envelope = webhooks.envelope_read(raw)
    if network != "metriport":
        envelope = dataclasses.replace(envelope, network=network)
    return webhooks.event_store(raw=raw, envelope=envelope)


def test_the_insert_writes_every_column_of_the_model():
    _sql, fields = webhooks.event_insert_statement()
    every = [f.name for f in WebhookEvent._meta.concrete_fields if not f.primary_key]
    assert [f.name for f in fields] == every


def test_a_new_event_gets_its_id_and_the_models_defaults():
    event, created = stored("m-new")
    assert created and event is not None and event.pk
    row = WebhookEvent.objects.get(pk=event.pk)
    assert (row.message_id, row.status, row.attempts, row.signature_valid, row.last_error, row.outcome) == (
        "m-new",
        WebhookEvent.Status.PENDING,
        0,
        True,
        "",
        "",
    )
    assert row.claimed_until is None and row.processed_at is None and row.received_at is not None
    event.outcome = "noted"
    event.save()  # the returned event is the stored row: saving it updates, never inserts a second
    assert list(WebhookEvent.objects.values_list("message_id", "outcome")) == [("m-new", "noted")]


def test_a_duplicate_inside_a_transaction_leaves_it_usable():
    """No error is raised for a duplicate, so the caller's transaction goes on (no savepoint needed)."""
    stored("m-dup")
    with transaction.atomic():
        event, created = stored("m-dup")
        assert (event, created) == (None, False)
        assert WebhookEvent.objects.filter(message_id="m-dup").count() == 1
    assert not connection.needs_rollback


def test_the_same_message_id_from_another_network_is_another_event():
    stored("shared-id")
    _event, created = stored("shared-id", network="particle")
    assert created
    assert WebhookEvent.objects.filter(message_id="shared-id").count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the connection health check is PostgreSQL's")
def test_a_delivery_on_a_dropped_connection_is_stored_on_a_new_one():
    """The hot path does not test the connection first, so a connection the server dropped since
    the last request must not lose the delivery: the INSERT is sent again on a new connection."""
    stored("m-before")
    backend = connection.connection.info.backend_pid
    with psycopg.connect(**connection.get_connection_params()) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    connection.health_check_done = False  # type: ignore[attr-defined]  # as at the start of the next request

    event, created = stored("m-after-drop")

    assert created and event is not None
    assert connection.connection.info.backend_pid != backend
    assert WebhookEvent.objects.filter(message_id="m-after-drop").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the connection health check is PostgreSQL's")
def test_inside_a_transaction_a_dropped_connection_is_an_error():
    """Sending again inside a transaction would lose its earlier statements: there the health check
    stays, and a connection lost mid-transaction raises."""
    with transaction.atomic():
        stored("m-in-atomic")
        backend = connection.connection.info.backend_pid
        with psycopg.connect(**connection.get_connection_params()) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [backend])
        with pytest.raises(OperationalError):
            stored("m-in-atomic-2")
        connection.needs_rollback = True
    connection.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_on_postgresql_the_insert_is_prepared_once_and_only_its_values_are_sent():
    """Django's cursors quote every value into the SQL text, which the server parses and plans
    again on every delivery; the delivery's INSERT binds on the server and is prepared."""
    for number in range(8):
        stored(f"m-prepared-{number}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO%%'")
        statements = [row[0] for row in cursor.fetchall()]
    assert len(statements) == 1 and "ON CONFLICT" in statements[0] and "$1" in statements[0]
    assert WebhookEvent.objects.filter(message_id__startswith="m-prepared-").count() == 8


def test_the_insert_shows_in_djangos_query_log(django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        stored("m-logged")
    assert captured.captured_queries[0]["sql"].startswith("INSERT INTO")
