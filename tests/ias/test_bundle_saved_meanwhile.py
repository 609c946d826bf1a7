"""Two workers, two copies of a person's whole record: the older copy's save waits for the person's
lock while the newer one is saved, and by the time it holds the lock the newer copy's event is done,
no longer waiting. The older copy must not then be saved over the newer one."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from ias import delivery
from ias.models import NetworkPatient, QuerySource, WebhookEvent
from records import services as records_services
from tests.ias.test_bundle_handover import process, records_of, stored
from tests.ias.test_handlers import start_query, verified

pytestmark = pytest.mark.django_db


def saved_by_another_worker(newer: WebhookEvent) -> None:
    """What the other worker leaves behind: the newer copy noted as saved, its event processed."""
    NetworkPatient.objects.filter(patient_id=newer.network_patient_id).update(
        last_ingested_data_at=newer.sent_at, last_ingested_message_id=newer.message_id
    )
    WebhookEvent.objects.filter(pk=newer.pk).update(status=WebhookEvent.Status.PROCESSED)


def waits_for_the_lock_meanwhile(monkeypatch, arrives) -> None:
    """While the event waits for the person's lock, another copy (`arrives()` stores its event) is
    saved by another worker; then it holds the lock, as records' real lock lets it."""
    real_lock = records_services.person_ingest_lock
    waited: list[bool] = []

    @contextmanager
    def lock(*, user_id: int) -> Iterator[None]:
        if not waited:
            waited.append(True)
            saved_by_another_worker(arrives())
        with real_lock(user_id=user_id):
            yield

    monkeypatch.setattr("records.services.person_ingest_lock", lock)


def test_an_older_copy_is_not_saved_over_one_saved_as_it_waited(mfa_user, network, ingested, no_enqueue, monkeypatch):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie", "lab"))
    hie = stored("hie", query.request_id)
    arrived: list[WebhookEvent] = []

    def lab_arrives() -> WebhookEvent:
        arrived.append(stored("lab", query.request_id))
        return arrived[0]

    waits_for_the_lock_meanwhile(monkeypatch, lab_arrives)
    assert process(hie).status == WebhookEvent.Status.PROCESSED
    assert ingested.calls == []
    assert records_of(query)["hie"] == QuerySource.Records.SKIPPED
    link = NetworkPatient.objects.get(user=mfa_user)
    assert link.last_ingested_message_id == arrived[0].message_id


def test_a_newer_copy_is_still_saved_after_an_older_one_was(mfa_user, network, ingested, no_enqueue, monkeypatch):
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie", "lab"))
    lab = stored("lab", query.request_id)
    waits_for_the_lock_meanwhile(monkeypatch, lambda: stored("hie", query.request_id))
    process(lab)
    assert [c["url"] for c in ingested.calls] == ["https://bundles.test/lab.json"]
    assert records_of(query)["lab"] == QuerySource.Records.FETCHED
    assert NetworkPatient.objects.get(user=mfa_user).last_ingested_message_id == lab.message_id


def person_lock_held(user_id: int) -> bool:
    """Whether the person's ingest lock is held: on PostgreSQL an advisory lock granted to any session;
    on SQLite the lock file records keeps per person, which cannot be locked again without waiting."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = %s"
                " AND objsubid = 2 AND granted)",
                [user_id],
            )
            return bool(cursor.fetchone()[0])
    path = Path(settings.DATA_DIR) / "locks" / f"ingest-{user_id}.lock"
    if not path.exists():
        return False
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_the_copy_saved_is_noted_before_the_persons_lock_is_let_go(
    mfa_user, network, ingested, no_enqueue, monkeypatch
):
    """Another worker's save of an older copy waits for the person's lock; by the time it has it, the
    note of the newest copy saved must be in, or it finds nothing that stops it."""
    verified(mfa_user, "pat_1")
    query = start_query(mfa_user, network, sources=("hie",))
    hie = stored("hie", query.request_id)
    held_while_noting: list[bool] = []
    note = delivery.newest_saved_note

    def noting(**kwargs):
        held_while_noting.append(person_lock_held(mfa_user.pk))
        note(**kwargs)

    monkeypatch.setattr("ias.delivery.newest_saved_note", noting)
    assert process(hie).status == WebhookEvent.Status.PROCESSED
    assert held_while_noting == [True]
    assert not person_lock_held(mfa_user.pk)  # let go once the note is in
    assert NetworkPatient.objects.get(user=mfa_user).last_ingested_message_id == hie.message_id
