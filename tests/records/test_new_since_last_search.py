"""Items new since the previous search are marked "New" (decided from each item's first snapshot)."""

import pytest
from django.urls import reverse

from records import selectors
from tests.records.conftest import ingest_bundle

pytestmark = pytest.mark.django_db


def condition(rid: str, text: str) -> dict:
    return {
        "resource": {
            "resourceType": "Condition",
            "id": rid,
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"text": text},
            "onsetDateTime": "2025-03-01",
        }
    }


def bundle(*entries: dict) -> dict:
    patient = {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"family": "Example"}]}}
    return {"resourceType": "Bundle", "type": "collection", "entry": [patient, *entries]}


def names(items) -> dict[str, bool]:
    return {item.display.name: item.is_new for item in items}


def test_nothing_is_new_after_the_first_search(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, bundle(condition("c1", "Asthma")), request_id="search-1")
    listing = selectors.category_list(user=mfa_user, category="conditions")
    assert names(listing.items) == {"Asthma": False}
    assert selectors.summary_for(user=mfa_user).new_items == []


def test_items_first_seen_in_the_latest_search_are_new(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, bundle(condition("c1", "Asthma")), request_id="search-1")
    ingest_bundle(mfa_user, bundle(condition("c1", "Asthma"), condition("c2", "Migraine")), request_id="search-2")
    # A consolidated copy fetched during the same search counts as part of it.
    ingest_bundle(
        mfa_user,
        bundle(condition("c1", "Asthma"), condition("c2", "Migraine"), condition("c3", "Gout")),
        network_source="consolidated",
        request_id="cq-1",
    )
    listing = selectors.category_list(user=mfa_user, category="conditions")
    assert names(listing.items) == {"Asthma": False, "Migraine": True, "Gout": True}
    summary = selectors.summary_for(user=mfa_user)
    assert sorted(i.display.name for i in summary.new_items) == ["Gout", "Migraine"]
    assert names(summary.conditions) == {"Asthma": False, "Migraine": True, "Gout": True}


def test_the_new_badge_is_on_the_page(client_mfa, mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, bundle(condition("c1", "Asthma")), request_id="search-1")
    ingest_bundle(mfa_user, bundle(condition("c1", "Asthma"), condition("c2", "Migraine")), request_id="search-2")
    page = client_mfa.get(reverse("records:category", args=["conditions"])).content.decode()
    rows = {("Migraine" if "Migraine" in row else "Asthma"): row for row in page.split('<li class="record-row')[1:]}
    assert "badge--new" in rows["Migraine"]
    assert "badge--new" not in rows["Asthma"]
