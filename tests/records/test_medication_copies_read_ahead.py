"""The medication lines read the JSON of the copies they describe, not of every copy: on PostgreSQL (where
casting the stored JSON to text costs the database) the reconciliation reads its columns, then the JSON
of each drug's deciding, naming, newest and last-filled copies in one query; a copy asked for beyond
those has every copy's JSON read at once, in one more query. Elsewhere the JSON is stored as text and
is read with the columns, in one query."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from records import selectors
from records.models import Resource
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def owner(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=3000))
    return mfa_user


def _groups(meds: selectors.Medications) -> list[selectors.MedicationGroup]:
    return [*meds.current, *meds.past]


def test_the_reconciliation_reads_the_json_of_the_copies_it_describes_only(owner, django_assert_num_queries):
    with django_assert_num_queries(2 if POSTGRESQL else 1):  # the columns, then the JSON read ahead
        meds = selectors.medications_reconciled(user=owner, networks=["metriport"])
    groups = _groups(meds)
    copies = groups[0].copies
    every = sum(len(g.rows) for g in groups)
    if POSTGRESQL:
        assert len(copies.texts) < every / 2
    else:
        assert len(copies.texts) == every
    assert set(copies.described) <= set(copies.texts)
    for group in groups:
        assert group.rows[0].id in copies.texts  # the newest copy: the line's date and, mostly, instructions


def test_a_copy_beyond_the_read_ahead_reads_every_copy_once(owner, django_assert_num_queries):
    groups = _groups(selectors.medications_reconciled(user=owner, networks=["metriport"]))
    with django_assert_num_queries(1 if POSTGRESQL else 0):
        described = [item for group in groups for item in group.items]
    assert len(described) == sum(len(g.rows) for g in groups)
    with django_assert_num_queries(0):
        assert [g.instructions for g in groups]


def test_each_copy_is_described_as_from_its_stored_resource(owner):
    groups = _groups(selectors.medications_reconciled(user=owner, networks=["metriport"]))
    for group in groups:
        for row, item in zip(group.rows, group.items, strict=True):
            stored = selectors.to_item(Resource.objects.get(pk=row.id))
            assert item.pk == row.id
            assert item.resource.raw == stored.resource.raw
            assert item.resource.first_snapshot_id == stored.resource.first_snapshot_id
            assert (item.display.name, item.display.status, item.display.value, item.display.date) == (
                stored.display.name,
                stored.display.status,
                stored.display.value,
                stored.display.date,
            )


def test_each_copy_s_time_is_the_stored_one_to_the_microsecond(owner):
    """On PostgreSQL the times are read as microseconds since 1970 (`_EpochMicroseconds`)."""
    groups = _groups(selectors.medications_reconciled(user=owner, networks=["metriport"]))
    rows = [row for group in groups for row in group.rows]
    Resource.objects.filter(pk=rows[0].id).update(clinical_date=datetime(2021, 3, 4, 5, 6, 7, 891011, tzinfo=UTC))
    Resource.objects.filter(pk=rows[1].id).update(clinical_date=None)
    groups = _groups(selectors.medications_reconciled(user=owner, networks=["metriport"]))
    rows = [row for group in groups for row in group.rows]
    stored = dict(Resource.objects.filter(pk__in=[row.id for row in rows]).values_list("pk", "clinical_date"))
    assert [row.clinical_date for row in rows] == [stored[row.id] for row in rows]
    assert datetime(2021, 3, 4, 5, 6, 7, 891011, tzinfo=UTC) in stored.values() and None in stored.values()
    assert all(row.clinical_date is None or row.clinical_date.tzinfo is UTC for row in rows)
