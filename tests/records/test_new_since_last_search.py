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


def network_ingest(user, bundle_: dict, *, network: str, source: str, request_id: str):
    import tempfile

    import orjson

    from records.services import snapshot_ingest_file

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(orjson.dumps(bundle_))
        handle.flush()
        snapshot_ingest_file(
            user_id=user.pk,
            path=handle.name,
            network_source=source,
            network=network,
            request_id=request_id,
            retire=True,
        )


def test_a_second_networks_items_are_new_with_the_search_they_came_in_even_when_it_answered_first(
    mfa_user, private_storage_dir
):
    network_ingest(mfa_user, bundle(condition("c1", "Asthma")), network="metriport", source="hie", request_id="s-1")
    network_ingest(mfa_user, bundle(condition("g1", "Gout")), network="particle", source="particle", request_id="s-1")
    # The next search: Particle's records are saved before Metriport's.
    network_ingest(
        mfa_user,
        bundle(condition("g1", "Gout"), condition("e1", "Eczema")),
        network="particle",
        source="particle",
        request_id="s-2",
    )
    network_ingest(
        mfa_user,
        bundle(condition("c1", "Asthma"), condition("c2", "Migraine")),
        network="metriport",
        source="hie",
        request_id="s-2",
    )
    listing = selectors.category_list(user=mfa_user, category="conditions")
    assert names(listing.items) == {"Asthma": False, "Gout": False, "Eczema": True, "Migraine": True}
