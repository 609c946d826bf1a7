"""The counts the pages show come from the census kept at each ingest, and agree with counting the
rows themselves; without a census (a record saved before it existed) the pages count live."""

from typing import Any

import pytest

from records import selectors
from records.models import RecordCensus
from records.services import census_refresh, record_delete_all
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db

FILTERS: list[dict[str, Any]] = [
    {},
    {"flag": "abnormal"},
    {"status": "active"},
    {"q": "glucose"},
    {"sort": "name", "page": 2},
]


def _figures(user) -> dict:
    figures: dict = {
        "counts": selectors.category_counts(user=user),
        "lab results": selectors.lab_result_count(user=user),
    }
    for category in selectors.CATEGORIES:
        for given in FILTERS:
            listing = selectors.category_list(user=user, category=category, **given)
            figures[(category, tuple(sorted(given.items())))] = (listing.total, listing.sources, listing.lab_results)
            for source in listing.sources[:2]:
                figures[(category, source)] = selectors.category_list(user=user, category=category, source=source).total
    return figures


def test_an_ingest_keeps_a_census_that_agrees_with_counting_live(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=600))
    assert RecordCensus.objects.filter(user=mfa_user).exists()
    kept = _figures(mfa_user)
    RecordCensus.objects.filter(user=mfa_user).delete()
    assert _figures(mfa_user) == kept
    assert kept["counts"]["labs"] > 0 and kept["lab results"] > kept["counts"]["labs"]


def test_a_later_ingest_counts_again(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=600))
    ingest_bundle(mfa_user, generated("clean", size=300), request_id="req-2")
    kept = _figures(mfa_user)
    census_refresh(user_id=mfa_user.pk)
    assert _figures(mfa_user) == kept


def test_deleting_the_record_deletes_its_census(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("clean", size=200))
    record_delete_all(user_id=mfa_user.pk)
    assert not RecordCensus.objects.filter(user=mfa_user).exists()
    assert selectors.category_counts(user=mfa_user) == {"labs": 0, "medications": 0}
