"""The cyclic garbage collector is off while a bundle is extracted and written, and back as it was
afterwards, whether the save succeeded or failed."""

import gc

import pytest

from records import ingest
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db(transaction=True)


def _recording_extract(monkeypatch, *, fail_at: int = 0) -> list[bool]:
    real_extract = ingest.extract
    seen: list[bool] = []

    def recording(resource, **kwargs):
        seen.append(gc.isenabled())
        if fail_at and len(seen) == fail_at:
            raise RuntimeError("extraction failed")
        return real_extract(resource, **kwargs)

    monkeypatch.setattr(ingest, "extract", recording)
    return seen


def test_the_collector_is_off_during_the_save_and_on_after(user, private_storage_dir, monkeypatch):
    seen = _recording_extract(monkeypatch)
    assert gc.isenabled()

    ingest_bundle(user, generated(size=200))

    assert seen and not any(seen)
    assert gc.isenabled()


def test_a_failed_save_turns_the_collector_back_on(user, private_storage_dir, monkeypatch):
    _recording_extract(monkeypatch, fail_at=50)
    with pytest.raises(RuntimeError, match="extraction failed"):
        ingest_bundle(user, generated(size=200))
    assert gc.isenabled()


def test_a_collector_already_off_stays_off(user, private_storage_dir, monkeypatch):
    gc.disable()
    try:
        ingest_bundle(user, generated(size=100))
        assert not gc.isenabled()
    finally:
        gc.enable()
