"""Rows stored before a record could hold two networks get the clinical same-item keys, so a
Particle copy of an item already in the record merges with it without a new download."""

import importlib

import pytest
from django.apps import apps

from records import selectors
from records.models import Resource
from tests.records.two_networks import RIVERSIDE, ingest_from, metriport_bundle, particle_bundle

migration = importlib.import_module("records.migrations.0008_network_per_item")


@pytest.mark.django_db
def test_stored_rows_get_clinical_keys_and_merge_with_a_later_network(mfa_user, private_storage_dir):
    ingest_from(mfa_user, metriport_bundle(), network="metriport")
    Resource.objects.filter(user=mfa_user).update(dedupe_key="old-style", is_primary=False)
    migration.rederive_dedupe(apps, None)
    rows = Resource.objects.filter(user=mfa_user)
    assert rows.filter(is_primary=True).count() == rows.count() == 10
    assert rows.filter(dedupe_key="old-style").count() == 0
    ingest_from(mfa_user, particle_bundle(), network="particle")
    conditions = selectors.category_list(user=mfa_user, category="conditions").items
    assert len(conditions) == 1 and conditions[0].sources == [RIVERSIDE]
    assert conditions[0].network_words == "via Metriport and via Particle"
