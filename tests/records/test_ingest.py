"""Ingest: rows and columns, idempotency, retirement, provenance, hostile bundles, deletion and export."""

import copy
import tempfile

import orjson
import pytest

from accounts.storage import private_storage
from records import ingest
from records.errors import BundleInvalid
from records.models import Resource, Snapshot
from records.selectors import record_export_bundle
from records.services import record_delete_all, snapshot_ingest_file
from tests.records.conftest import ingest_bundle

pytestmark = pytest.mark.django_db


def _row(user, rid):
    return Resource.objects.get(user=user, resource_id=rid)


def test_one_row_per_resource_with_extracted_columns(user, small_bundle, private_storage_dir):
    snapshot = ingest_bundle(user, small_bundle)
    assert snapshot.status == Snapshot.STATUS_COMPLETE
    assert snapshot.skipped_count == 4  # no resource, bad type, a bare number, a duplicate id
    a1c = _row(user, "obs-a1c")
    assert (a1c.category, a1c.code_system, a1c.code, a1c.display) == (
        "labs",
        "http://loinc.org",
        "4548-4",
        "Hemoglobin A1c",
    )
    assert (a1c.value_num, a1c.value_unit, a1c.flag, a1c.status) == (7.2, "%", "H", "final")
    assert a1c.clinical_date_text == "2023-03-14T09:45:00-05:00"
    assert a1c.source_org == "Northstar Labs" and a1c.network_source == ""  # untagged: delivery not known
    assert a1c.encounter_ref == "Encounter/enc1"
    assert _row(user, "obs-k").parent_ref == "DiagnosticReport/dr1"
    assert _row(user, "obs-k").flag == "L"
    assert _row(user, "obs-glucose-mismatch").flag == ""  # units differ: no computed flag
    condition = _row(user, "cond-dm")
    assert condition.clinical_date_text == "2019-03" and condition.clinical_date.year == 2019
    assert condition.display == "Type 2 diabetes mellitus without complications"
    assert condition.source_org == "Riverside Community Hospital"  # via the encounter's serviceProvider
    assert _row(user, "cond-refuted").source_org == "Riverside Community Hospital"  # via Provenance
    assert _row(user, "cond-refuted").status == "refuted"
    assert _row(user, "mr1").display == "Metformin 500 MG Oral Tablet"
    assert _row(user, "proc-from-fullurl").display == "Knee arthroscopy"
    assert "\x00" not in _row(user, "cond-nul").display
    assert _row(user, "cond-dm").raw["code"]["coding"][0]["code"] == "E11.9"  # the first copy won
    same = Resource.objects.filter(user=user, dedupe_key=condition.dedupe_key)
    assert same.count() == 2 and same.filter(is_primary=True).count() == 1


def test_the_same_bundle_twice_changes_nothing(user, small_bundle, private_storage_dir):
    ingest_bundle(user, small_bundle)
    before = list(Resource.objects.filter(user=user).order_by("id").values_list("id", "updated_at", "content_hash"))
    second = ingest_bundle(user, small_bundle, request_id="req-2")
    after = list(Resource.objects.filter(user=user).order_by("id").values_list("id", "updated_at", "content_hash"))
    assert before == after
    assert (second.created_count, second.updated_count, second.retired_count) == (0, 0, 0)
    assert second.unchanged_count == second.resource_count


def test_missing_items_are_retired_changed_updated_and_returning_restored(user, small_bundle, private_storage_dir):
    ingest_bundle(user, small_bundle)
    newer = copy.deepcopy(small_bundle)
    newer["entry"] = [
        e for e in newer["entry"] if not (isinstance(e, dict) and e.get("resource", {}).get("id") == "alg1")
    ]
    for entry in newer["entry"]:
        if isinstance(entry, dict) and entry.get("resource", {}).get("id") == "obs-k":
            entry["resource"]["valueQuantity"]["value"] = 4.2
    snapshot = ingest_bundle(user, newer, request_id="req-2")
    assert (snapshot.retired_count, snapshot.updated_count, snapshot.created_count) == (1, 1, 0)
    assert _row(user, "alg1").retired_at is not None
    assert _row(user, "obs-k").value_num == 4.2 and _row(user, "obs-k").flag == "N"
    assert _row(user, "obs-k").raw["valueQuantity"]["value"] == 4.2  # the changed JSON, stored as JSON
    restored = ingest_bundle(user, small_bundle, request_id="req-3")
    assert _row(user, "alg1").retired_at is None and restored.updated_count == 2
    assert _row(user, "alg1").raw["id"] == "alg1" and _row(user, "obs-k").raw["valueQuantity"]["value"] != 4.2


def test_early_partial_delivery_retires_nothing(user, small_bundle, private_storage_dir):
    ingest_bundle(user, small_bundle)
    partial = {"resourceType": "Bundle", "entry": small_bundle["entry"][:3]}
    snapshot = ingest_bundle(user, partial, network_source="hie.first-data-ready", request_id="req-2", retire=False)
    assert snapshot.retired_count == 0
    assert not Resource.objects.filter(user=user, retired_at__isnull=False).exists()


def test_raw_bundle_kept_encrypted_and_deleted_with_the_record(user, small_bundle, private_storage_dir):
    snapshot = ingest_bundle(user, small_bundle)
    stored = private_storage_dir / snapshot.bundle_file
    assert stored.exists() and b"penicillin" not in stored.read_bytes()
    import gzip

    with private_storage().open(snapshot.bundle_file) as handle:
        assert b"penicillin" in gzip.decompress(handle.read())
    counts = record_delete_all(user_id=user.pk)
    assert counts == {"resources": snapshot.resource_count, "snapshots": 1, "bundle_files": 1}
    assert not stored.exists() and not Resource.objects.filter(user=user).exists()


def test_records_of_two_people_stay_apart(user, other_user, small_bundle, private_storage_dir):
    ingest_bundle(user, small_bundle)
    ingest_bundle(other_user, small_bundle)
    record_delete_all(user_id=user.pk)
    assert Resource.objects.filter(user=other_user).count() == Resource.objects.filter(user=other_user).count() > 0
    assert not Resource.objects.filter(user=user).exists()


def test_export_bundle_has_every_current_resource(user, small_bundle, private_storage_dir):
    ingest_bundle(user, small_bundle)
    bundle = record_export_bundle(user_id=user.pk)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert len(bundle["entry"]) == Resource.objects.filter(user=user, retired_at__isnull=True).count()


@pytest.mark.parametrize(
    "data", [b"", b"not json", b"[1,2]", b'{"resourceType":"Patient"}', b'{"resourceType":"Bundle","entry":{"a":1}}']
)
def test_unreadable_bundles_fail_without_partial_data(user, data, private_storage_dir):
    with tempfile.NamedTemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        with pytest.raises(BundleInvalid):
            snapshot_ingest_file(user_id=user.pk, path=handle.name, network_source="hie", retire=True)
    assert not Resource.objects.filter(user=user).exists()
    assert not Snapshot.objects.filter(user=user, status=Snapshot.STATUS_COMPLETE).exists()


def test_empty_bundle_is_a_snapshot_with_nothing(user, private_storage_dir):
    snapshot = ingest_bundle(user, {"resourceType": "Bundle", "type": "collection"})
    assert snapshot.resource_count == 0


def test_generated_bundle_round_trip(user, generated_bundle, private_storage_dir):
    snapshot = ingest_bundle(user, generated_bundle)
    assert snapshot.resource_count == len(generated_bundle["entry"]) - snapshot.skipped_count
    assert Resource.objects.filter(user=user, source_org="").count() < snapshot.resource_count * 0.05
    assert Resource.objects.filter(user=user, clinical_date__isnull=True, category="labs").count() == 0


def test_parse_bytes_streams_in_chunks(generated_bundle, monkeypatch):
    monkeypatch.setattr(ingest, "CHUNK", 50)
    entries = ingest.split_entries(orjson.dumps(generated_bundle))
    stats = ingest.ParseStats()
    chunks = list(ingest.iter_rows(entries, ingest.build_lookup(entries), stats))
    assert len(chunks) > 2 and all(len(c) <= 50 for c in chunks)
