"""On SQLite the ingest commits in short batches: another writer gets in while a bundle is being
written, and a failure part-way leaves nothing of the failed snapshot behind."""

import threading
import time

import pytest
from django.db import IntegrityError, connection, connections, transaction

from accounts.models import AccessLogEntry
from records import ingest, store
from records.models import Resource, Snapshot
from tests.records.conftest import generated, ingest_bundle

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL writes a bundle in one transaction"),
]


def test_another_writer_gets_in_between_batches(user, other_user, generated_bundle, private_storage_dir, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 50)
    monkeypatch.setattr(store, "WRITE_BATCH", 50)
    real_iter_rows = ingest.iter_rows
    waits: list[float] = []

    def write_from_another_connection() -> None:
        before = time.perf_counter()
        try:
            AccessLogEntry.objects.create(subject=other_user, actor=other_user, action="records:summary")
            waits.append(time.perf_counter() - before)
        finally:
            connections.close_all()

    def iter_rows_with_a_second_writer(*args, **kwargs):
        for number, chunk in enumerate(real_iter_rows(*args, **kwargs)):
            yield chunk
            if number == 2:  # the first chunks are written and committed by now
                other = threading.Thread(target=write_from_another_connection)
                other.start()
                other.join(timeout=30)

    monkeypatch.setattr(ingest, "iter_rows", iter_rows_with_a_second_writer)
    snapshot = ingest_bundle(user, generated_bundle)

    assert snapshot.status == Snapshot.STATUS_COMPLETE
    assert len(waits) == 1 and waits[0] < 5, waits
    assert AccessLogEntry.objects.filter(subject=other_user).count() == 1


def test_a_failure_part_way_removes_what_the_snapshot_added(user, generated_bundle, private_storage_dir, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 50)
    real_iter_rows = ingest.iter_rows

    def iter_rows_that_break(*args, **kwargs):
        for number, chunk in enumerate(real_iter_rows(*args, **kwargs)):
            if number == 3:
                raise RuntimeError("worker lost")
            yield chunk

    monkeypatch.setattr(ingest, "iter_rows", iter_rows_that_break)
    with pytest.raises(RuntimeError):
        ingest_bundle(user, generated_bundle)

    assert not Resource.objects.filter(user=user).exists()
    snapshot = Snapshot.objects.get(user=user)
    assert snapshot.status == Snapshot.STATUS_FAILED


def test_the_connection_checks_and_caches_as_before_once_an_ingest_is_done(user, generated_bundle, private_storage_dir):
    """The ingest writes without CHECK constraints, with a larger page cache and temporary files in
    memory, on its own connection and only while it writes: afterwards that connection refuses
    invalid JSON again."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (cache_size,) = cursor.fetchone()
        cursor.execute("PRAGMA temp_store")
        (temp_store,) = cursor.fetchone()
    ingest_bundle(user, generated_bundle)

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone() == (cache_size,)
        cursor.execute("PRAGMA temp_store")
        assert cursor.fetchone() == (temp_store,)
        cursor.execute("PRAGMA ignore_check_constraints")
        assert cursor.fetchone() == (0,)
        first = Resource.objects.filter(user=user).order_by("id").values_list("id", flat=True)[0]
        with pytest.raises(IntegrityError), transaction.atomic():
            cursor.execute("UPDATE records_resource SET raw = %s WHERE id = %s", ["{not json", first])


@pytest.fixture
def checkpoints(monkeypatch) -> list:
    """Every background checkpoint an ingest starts, as it starts it."""
    started: list = []
    real = store.wal_checkpoint_in_background

    def recorded():
        checkpoint = real()
        started.append(checkpoint)
        return checkpoint

    monkeypatch.setattr(store, "wal_checkpoint_in_background", recorded)
    return started


def test_the_log_is_copied_into_the_database_by_a_thread_of_its_own(user, private_storage_dir, checkpoints, caplog):
    """The checkpoint after an ingest runs on a connection of its own thread (the save does not wait
    for its syncs), and it copies the whole log into the database file."""
    ingest_bundle(user, generated(size=600))

    assert len(checkpoints) == 1 and checkpoints[0] is not threading.current_thread()
    checkpoints[0].join(30)
    assert not checkpoints[0].is_alive() and "checkpoint" not in caplog.text
    assert checkpoints[0].result is not None
    busy, frames, copied = checkpoints[0].result
    assert busy == 0 and frames > 0 and copied == frames


def test_a_checkpoint_found_busy_is_tried_again(user, private_storage_dir, checkpoints, monkeypatch):
    """A 600-resource bundle leaves just over 1000 pages in the log, so the ingest connection's next
    commit may begin its own automatic checkpoint first: the background one then finds SQLite's
    checkpoint lock held, and tries again once the other is done, copying what it left."""
    answers: list[tuple[int, int, int]] = []
    real_passive = store.wal_checkpoint_passive

    def busy_first(cursor):
        answers.append((1, -1, -1) if not answers else real_passive(cursor))
        return answers[-1]

    monkeypatch.setattr(store, "wal_checkpoint_passive", busy_first)
    ingest_bundle(user, generated(size=600))

    checkpoints[0].join(30)
    # Tried again after the busy answer; the real race can make the next answer busy too.
    assert answers[0] == (1, -1, -1) and len(answers) >= 2
    assert checkpoints[0].result == answers[-1]
    busy, frames, copied = checkpoints[0].result
    assert busy == 0 and frames > 0 and copied == frames
