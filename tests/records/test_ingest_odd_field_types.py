"""A field of the wrong JSON type (a number where a list belongs) costs at most its own resource, never
the bundle: the network's converters and partners do send such things, and one must not lose the
person their whole record."""

import copy
import random

import orjson
import pytest

from records import ingest
from records.models import Resource, Snapshot
from tests.records.conftest import generated, ingest_bundle
from tests.records.converter_shapes import bundle, observation, organization

pytestmark = pytest.mark.django_db

ODD_VALUES = (None, "", "  ", 7, 1.5, True, [], {}, "n/a", [None], {"x": 1})


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


def _scrambled(node, rng: random.Random, *, top: bool = True):
    """Some fields, at every depth, dropped or given one of ODD_VALUES; a list made a single item."""
    if isinstance(node, dict):
        for key in list(node):
            if top and key == "resourceType":
                continue
            roll = rng.random()
            if roll < 0.08:
                del node[key]
            elif roll < 0.14:
                node[key] = copy.deepcopy(rng.choice(ODD_VALUES))
            elif roll < 0.17 and isinstance(node[key], list) and node[key]:
                node[key] = node[key][0]
            else:
                _scrambled(node[key], rng, top=False)
    elif isinstance(node, list):
        for item in node:
            _scrambled(item, rng, top=False)


@pytest.mark.parametrize("shape", ["clean", "converted"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_bundle_with_scrambled_field_types_is_read_without_error(shape, seed):
    scrambled = generated(shape, size=300)
    rng = random.Random(seed)
    for entry in scrambled["entry"]:
        _scrambled(entry["resource"], rng)
    rows, stats = ingest.parse_bytes(orjson.dumps(scrambled))
    assert stats.total == len(scrambled["entry"])
    assert len(rows) + stats.skipped + stats.duplicates == stats.total
    assert len(rows) > stats.total // 2
