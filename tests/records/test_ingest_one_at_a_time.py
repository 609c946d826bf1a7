"""Two workers saving bundles for the same person at once (two sources' webhooks): both complete,
one after the other, with no clash on the rows both find new, on SQLite as on PostgreSQL."""

import threading
import time

import pytest
from django.db import connections

from records import ingest
from records.models import Resource, Snapshot
from tests.records.conftest import ingest_bundle

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_ingests_of_one_person_at_once_both_complete(user, generated_bundle, private_storage_dir, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 50)
    real_iter_rows = ingest.iter_rows

    def slow_iter_rows(*args, **kwargs):
        for chunk in real_iter_rows(*args, **kwargs):
            time.sleep(0.02)  # long enough for the other ingest to start while this one writes
            yield chunk

    monkeypatch.setattr(ingest, "iter_rows", slow_iter_rows)
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
