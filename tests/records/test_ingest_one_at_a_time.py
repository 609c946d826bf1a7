"""Two workers saving bundles for the same person at once (two sources' webhooks): both complete,
one after the other, with no clash on the rows both find new, on SQLite as on PostgreSQL. The one
that waited asks again once it holds the lock: the same delivery saved meanwhile is not saved twice,
and a newer copy waiting makes it stop with nothing written."""

import tempfile
import threading
import time

import orjson
import pytest
from django.db import connection, connections

from records import ingest, services
from records.download import Downloaded
from records.errors import BundleSuperseded
from records.models import Resource, Snapshot
from tests.records.conftest import ingest_bundle

pytestmark = pytest.mark.django_db(transaction=True)


def slow_chunks(monkeypatch) -> None:
    monkeypatch.setattr(ingest, "CHUNK", 50)
    real_iter_rows = ingest.iter_rows

    def slow_iter_rows(*args, **kwargs):
        for chunk in real_iter_rows(*args, **kwargs):
            time.sleep(0.02)  # long enough for the other ingest to start while this one writes
            yield chunk

    monkeypatch.setattr(ingest, "iter_rows", slow_iter_rows)


def test_two_ingests_of_one_person_at_once_both_complete(user, generated_bundle, private_storage_dir, monkeypatch):
    slow_chunks(monkeypatch)
    failures: list[BaseException] = []

    def save(request_id: str) -> None:
        try:
            ingest_bundle(user, generated_bundle, request_id=request_id)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=save, args=(f"req-{n}",)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert failures == []
    assert list(Snapshot.objects.filter(user=user).values_list("status", flat=True)) == ["complete", "complete"]
    stored = Resource.objects.filter(user=user, retired_at__isnull=True)
    assert stored.count() == len(generated_bundle["entry"])
    assert sorted(Snapshot.objects.filter(user=user).values_list("created_count", flat=True)) == [
        0,
        len(generated_bundle["entry"]),
    ]


def bundle_on_disk(monkeypatch, bundle: dict) -> list[str]:
    """`bundle_download` hands over a fresh copy of `bundle` on each call; the urls asked are listed."""
    asked: list[str] = []

    def download(*, url: str, superseded=None) -> Downloaded:
        asked.append(url)
        data = orjson.dumps(bundle)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            handle.write(data)
        return Downloaded(path=handle.name, size=len(data), sha256="", elapsed_ms=1)

    monkeypatch.setattr(services, "bundle_download", download)
    return asked


def ingest_from_url(user, **kwargs) -> Snapshot:
    return services.snapshot_ingest_from_url(
        user_id=user.pk,
        url="https://bundles.test/lab.json",
        network_source="lab",
        request_id="req-1",
        retire=True,
        **kwargs,
    )


def test_the_same_delivery_saved_twice_at_once_is_saved_once(user, generated_bundle, private_storage_dir, monkeypatch):
    """The second waits for the person's lock before downloading, then finds the first's snapshot."""
    slow_chunks(monkeypatch)
    downloads = bundle_on_disk(monkeypatch, generated_bundle)
    results: list[Snapshot] = []
    failures: list[BaseException] = []

    def save() -> None:
        try:
            results.append(ingest_from_url(user))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=save) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert failures == []
    assert len(downloads) == 1
    assert Snapshot.objects.filter(user=user).count() == 1
    assert [snapshot.pk for snapshot in results] == [Snapshot.objects.get(user=user).pk] * 2


def test_a_newer_copy_waiting_stops_the_save_before_the_download(user, generated_bundle, monkeypatch):
    downloads = bundle_on_disk(monkeypatch, generated_bundle)
    with pytest.raises(BundleSuperseded):
        ingest_from_url(user, superseded=lambda: True)
    assert downloads == []
    assert not Snapshot.objects.filter(user=user).exists()


def test_a_newer_copy_waiting_once_the_lock_is_held_stops_the_save(user, generated_bundle, private_storage_dir):
    asked: list[bool] = []

    def newer_waits() -> bool:
        asked.append(True)
        return True

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(orjson.dumps(generated_bundle))
        handle.flush()
        with pytest.raises(BundleSuperseded):
            services.snapshot_ingest_file(
                user_id=user.pk, path=handle.name, network_source="lab", retire=True, superseded=newer_waits
            )
    assert asked == [True]
    assert not Snapshot.objects.filter(user=user).exists()
    assert not Resource.objects.filter(user=user).exists()


def test_a_newer_copy_arriving_mid_save_abandons_it(user, generated_bundle, private_storage_dir, monkeypatch):
    """The save stops as soon as a newer copy waits and keeps nothing: PostgreSQL rolls its one
    transaction back; SQLite, which commits in batches, removes what it added and says why."""
    slow_chunks(monkeypatch)
    monkeypatch.setattr(services, "SUPERSEDED_EVERY", 0.0)
    bundle_on_disk(monkeypatch, generated_bundle)
    answers = iter([False, False])  # no newer copy before the download, nor once the lock is held
    asked_from: list[str] = []

    def newer_waits() -> bool:
        # As the real check does, it reads the database: during the COPY, never over the save's connection.
        asked_from.append(threading.current_thread().name)
        Snapshot.objects.filter(user=user).count()
        return next(answers, True)

    with pytest.raises(BundleSuperseded):
        ingest_from_url(user, superseded=newer_waits)
    assert not Resource.objects.filter(user=user).exists()
    main = threading.current_thread().name
    assert asked_from[:2] == [main, main]
    assert set(asked_from[2:]) == {"newer-copy-watch"}
    if connection.vendor == "postgresql":
        assert not Snapshot.objects.filter(user=user).exists()
    else:
        assert list(Snapshot.objects.filter(user=user).values_list("status", "failure_reason")) == [
            (Snapshot.STATUS_FAILED, "replaced by a newer copy")
        ]
