"""Every generator shape ingests whole and every record page opens on it (no resource lost, no error)."""

import pytest
from django.urls import reverse

from records.models import Resource, Snapshot
from tests.records.conftest import ingest_bundle
from tests.records.test_pages import LIST_PAGES

pytestmark = pytest.mark.django_db


def test_every_resource_of_each_shape_is_stored(user, shaped_bundle, private_storage_dir):
    snapshot = ingest_bundle(user, shaped_bundle)
    assert snapshot.status == Snapshot.STATUS_COMPLETE
    stored = set(Resource.objects.filter(user=user).values_list("resource_type", "resource_id"))
    sent = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in shaped_bundle["entry"]}
    assert sent - stored == set()


def test_every_list_page_opens_on_each_shape(shaped_record_owner, client_mfa):
    failed = [name for name, args in LIST_PAGES if client_mfa.get(reverse(name, args=args)).status_code != 200]
    assert failed == []


def test_an_item_page_of_every_type_opens_on_a_converted_record(converted_record_owner, client_mfa):
    one_per_type: dict[str, int] = {}
    for pk, rtype in Resource.objects.filter(user=converted_record_owner).values_list("pk", "resource_type"):
        one_per_type.setdefault(rtype, pk)
    assert len(one_per_type) >= 20
    for pk in one_per_type.values():
        assert client_mfa.get(reverse("records:item", args=[pk])).status_code == 200
