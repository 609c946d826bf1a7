"""The next chunk of rows is extracted in a thread of its own while the current one is written: every
chunk arrives once and in order, an extraction error fails the save where it happened, and a save
that stops early leaves no thread behind."""

import threading
import time
import zoneinfo

import orjson
import pytest
from django.utils import timezone, translation

from records import ingest, services
from records.errors import BundleSuperseded
from records.models import Resource, Snapshot
from tests.records.conftest import generated, ingest_bundle

WAIT = 5.0


def _numbered(count: int, *, produced: list[int] | None = None):
    for number in range(count):
        if produced is not None:
            produced.append(number)
        yield [number]


def test_every_chunk_arrives_once_and_in_order():
    with ingest.ChunksAhead(_numbered(50)) as ahead:
        assert [chunk[0] for chunk in ahead] == list(range(50))


def test_the_next_chunk_is_extracted_while_the_current_one_is_in_hand():
    second_ready = threading.Event()

    def chunks():
        yield ["first"]
        second_ready.set()
        yield ["second"]

    with ingest.ChunksAhead(chunks()) as ahead:
        reading = iter(ahead)
        assert next(reading) == ["first"]
        assert second_ready.wait(WAIT), "the second chunk was not extracted while the first was in hand"
        assert next(reading) == ["second"]
        assert list(reading) == []


def test_it_runs_no_further_ahead_than_its_depth():
    produced: list[int] = []
    with ingest.ChunksAhead(_numbered(10, produced=produced), depth=1) as ahead:
        reading = iter(ahead)
        next(reading)
        deadline = time.monotonic() + WAIT
        while len(produced) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        # One chunk handed over, one waiting in the queue, one extracted and waiting for room.
        assert produced == [0, 1, 2]


def test_an_extraction_error_is_raised_after_the_chunks_before_it():
    def chunks():
        yield ["one"]
        yield ["two"]
        raise ValueError("broken resource")

    read = []
    with ingest.ChunksAhead(chunks()) as ahead, pytest.raises(ValueError, match="broken resource"):
        for chunk in ahead:
            read.append(chunk)
    assert read == [["one"], ["two"]]


def test_leaving_early_stops_the_thread_and_closes_the_extraction():
    closed = threading.Event()

    def chunks():
        try:
            for number in range(1000):
                yield [number]
        finally:
            closed.set()

    ahead = ingest.ChunksAhead(chunks())
    with ahead:
        for chunk in ahead:
            if chunk == [2]:
                break
    assert not ahead._thread.is_alive()
    assert closed.is_set()


def test_the_extraction_speaks_the_callers_language_in_the_callers_zone():
    seen = []

    def chunks():
        seen.append((translation.get_language(), str(timezone.get_current_timezone())))
        yield []

    with (
        translation.override("es"),
        timezone.override(zoneinfo.ZoneInfo("America/Chicago")),
        ingest.ChunksAhead(chunks()) as ahead,
    ):
        list(ahead)
    assert seen == [("es", "America/Chicago")]


@pytest.mark.django_db(transaction=True)
def test_a_bundle_in_many_chunks_is_saved_whole(user, private_storage_dir, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 7)
    bundle = generated("mixed", size=300)
    expected, _stats = ingest.parse_bytes(orjson.dumps(bundle))

    snapshot = ingest_bundle(user, bundle)

    assert snapshot.status == Snapshot.STATUS_COMPLETE
    stored = list(
        Resource.objects.filter(user=user).order_by("id").values_list("resource_type", "resource_id", "content_hash")
    )
    assert stored == [(row.resource_type, row.resource_id, row.content_hash) for row in expected]
    assert snapshot.resource_count == len(expected)


@pytest.mark.django_db(transaction=True)
def test_an_extraction_error_midway_fails_the_save_and_keeps_nothing(user, private_storage_dir, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 20)
    real_extract = ingest.extract
    calls = []

    def failing_extract(resource, **kwargs):
        calls.append(1)
        if len(calls) == 150:
            raise RuntimeError("extraction failed")
        return real_extract(resource, **kwargs)

    monkeypatch.setattr(ingest, "extract", failing_extract)
    with pytest.raises(RuntimeError, match="extraction failed"):
        ingest_bundle(user, generated(size=300))

    assert not Resource.objects.filter(user=user).exists()
    assert not Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE).exists()
    assert not [t for t in threading.enumerate() if t.name == "rows-ahead"]


@pytest.mark.django_db(transaction=True)
def test_a_save_replaced_midway_leaves_no_extraction_running(user, private_storage_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(ingest, "CHUNK", 10)
    monkeypatch.setattr(services, "SUPERSEDED_EVERY", 0.01)
    answers = iter([False])

    def superseded():
        return next(answers, True)  # not when the save starts, then yes

    def slow_chunks(chunks, on_progress):
        for chunk in chunks:
            threading.Event().wait(0.02)
            yield chunk

    monkeypatch.setattr(services, "_counted", slow_chunks)
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(generated(size=300)))
    with pytest.raises(BundleSuperseded):
        services.snapshot_ingest_file(
            user_id=user.pk, path=str(path), network_source="hie", retire=True, superseded=superseded
        )
    assert not Resource.objects.filter(user=user).exists()
    assert not [t for t in threading.enumerate() if t.name == "rows-ahead"]


def test_the_newer_copy_watch_starts_before_the_extraction(user, private_storage_dir, monkeypatch, tmp_path):
    """Starting a thread while the rows-ahead thread parses waits for Python's lock to change hands."""
    running_at_start: list[str] = []
    start = ingest.ChunksAhead.__enter__

    def entered(self):
        running_at_start.extend(t.name for t in threading.enumerate())
        return start(self)

    monkeypatch.setattr(ingest.ChunksAhead, "__enter__", entered)
    path = tmp_path / "bundle.json"
    path.write_bytes(orjson.dumps(generated(size=50)))
    services.snapshot_ingest_file(
        user_id=user.pk, path=str(path), network_source="hie", retire=True, superseded=lambda: False
    )
    assert "newer-copy-watch" in running_at_start
    assert Resource.objects.filter(user=user).exists()
