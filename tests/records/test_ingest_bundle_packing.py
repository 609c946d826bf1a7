"""The bundle kept for replay is gzipped in a thread of its own while the save runs: what is kept is
the file as delivered, whole, and a packing that fails fails the save with nothing kept."""

import gzip

import orjson
import pytest

from accounts.storage import private_storage
from records import services
from records.errors import BundleSuperseded
from records.models import Resource, Snapshot
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_kept_bundle_is_the_delivered_file_whole(user, private_storage_dir, monkeypatch):
    monkeypatch.setattr(services, "PACK_BLOCK", 4096)  # many blocks, the last one short
    bundle = generated(size=200)
    snapshot = ingest_bundle(user, bundle)

    assert snapshot.status == Snapshot.STATUS_COMPLETE
    with private_storage().open(snapshot.bundle_file) as handle:
        assert gzip.decompress(handle.read()) == orjson.dumps(bundle)


def test_a_packing_that_fails_fails_the_save_and_keeps_nothing(user, private_storage_dir, monkeypatch):
    def broken_write(self, data):
        raise OSError("disk full")

    monkeypatch.setattr(gzip.GzipFile, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        ingest_bundle(user, generated(size=200))

    assert not Resource.objects.filter(user=user).exists()
    assert not Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE).exists()
    assert not list(private_storage_dir.rglob("*.json.gz"))


def test_a_save_refused_before_writing_stops_the_packing(user, private_storage_dir, tmp_path, monkeypatch):
    packings = []
    real_init = services.BundlePacking.__init__

    def recording_init(self, path):
        real_init(self, path)
        packings.append(self)

    monkeypatch.setattr(services.BundlePacking, "__init__", recording_init)

    def superseded():
        return True

    with pytest.raises(BundleSuperseded):
        services.snapshot_ingest_file(
            user_id=user.pk, path=_plain(tmp_path), network_source="hie", retire=True, superseded=superseded
        )
    assert len(packings) == 1 and not packings[0].thread.is_alive() and packings[0].packed.closed


def _plain(folder) -> str:
    path = folder / "bundle.json"
    path.write_bytes(orjson.dumps(generated(size=200)))
    return str(path)
