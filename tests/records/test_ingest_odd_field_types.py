"""A field of the wrong JSON type (a number where a list belongs) costs at most its own resource, never
the bundle: the network's converters and partners do send such things, and one must not lose the
person their whole record."""

import orjson
import pytest

from records import ingest
from records.models import Resource, Snapshot
from tests.records.conftest import ingest_bundle
from tests.records.converter_shapes import bundle, observation, organization
from tests.records.scrambled import scrambled_bundle

pytestmark = pytest.mark.django_db


def _provenance(target) -> dict:
    return {
        "resourceType": "Provenance",
        "id": "prov-odd",
        "target": target,
        "agent": [{"who": {"reference": "Organization/org-1"}}],
    }


@pytest.mark.parametrize("target", [7, 1.5, True, "Observation/obs-1", {"reference": "Observation/obs-1"}])
def test_a_provenance_whose_target_is_not_a_list_leaves_the_rest_of_the_bundle_saved(user, private_storage_dir, target):
    sent = bundle(
        organization("org-1", "Riverside Community Hospital"),
        observation("obs-1", loinc="2160-0", display="Creatinine", value=1.1, unit="mg/dL"),
        _provenance(target),
    )
    snapshot = ingest_bundle(user, sent)
    assert snapshot.status == Snapshot.STATUS_COMPLETE
    stored = set(Resource.objects.filter(user=user).values_list("resource_type", "resource_id"))
    assert {("Observation", "obs-1"), ("Provenance", "prov-odd"), ("Organization", "org-1")} <= stored
    # Not a list of references: it names no item, so it is nobody's source.
    assert Resource.objects.get(user=user, resource_id="obs-1").source_org == ""


@pytest.mark.parametrize("shape", ["clean", "converted"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_bundle_with_scrambled_field_types_is_read_without_error(shape, seed):
    scrambled = scrambled_bundle(shape, seed=seed)
    rows, stats = ingest.parse_bytes(orjson.dumps(scrambled))
    assert stats.total == len(scrambled["entry"])
    # Each resource keeps its type and id: each one is a row, whatever else it holds.
    assert len(rows) == stats.total
    assert {(row.resource_type, row.resource_id) for row in rows} == {
        (entry["resource"]["resourceType"], entry["resource"]["id"]) for entry in scrambled["entry"]
    }
