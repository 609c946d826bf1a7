"""Merging two networks' items costs the list pages a fixed number of queries, however many items
(and however many of them both networks report) the record holds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.records.converter_shapes import observation
from tests.records.two_networks import ingest_from, metriport_bundle, particle_bundle

pytestmark = pytest.mark.django_db

PAGES = [
    ("records:summary", ()),
    ("records:category", ("labs",)),
    ("records:category", ("conditions",)),
    ("records:category", ("immunizations",)),
    ("records:category", ("allergies",)),
    ("records:category", ("medications",)),
    ("records:timeline", ()),
]
MOST_QUERIES = 30


def _grown(data: dict, *, extra: int, prefix: str) -> dict:
    """The bundle with `extra` more results at the first visit, the same ones in both networks."""
    for n in range(extra):
        result = observation(
            f"{prefix}-{n}",
            loinc="2160-0",
            display="Creatinine",
            value=0.8 + n / 100,
            unit="mg/dL",
            when=f"2024-02-{1 + n % 27:02d}T10:00:00.000Z",
        )
        result["encounter"] = {"reference": "Encounter/enc-1"}
        data["entry"].append({"fullUrl": f"urn:uuid:{prefix}-{n}", "resource": result})
    return data


def _queries(client) -> dict[str, int]:
    counts = {}
    for name, args in PAGES:
        url = reverse(name, args=args)
        client.get(url)  # warm the session and caches the first request of a page fills
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        counts[url] = len(captured)
    client.post(reverse("records:category", args=["labs"]), {"q": "creatinine"})
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("records:category", args=["labs"]))
    counts["labs search"] = len(captured)
    return counts


def _record(user, *, extra: int) -> None:
    ingest_from(user, _grown(metriport_bundle(), extra=extra, prefix="m"), network="metriport")
    ingest_from(user, _grown(particle_bundle(), extra=extra, prefix="p"), network="particle")


def test_list_pages_cost_the_same_queries_for_a_small_and_a_large_two_network_record(
    mfa_user, other_user, make_mfa_client, private_storage_dir
):
    _record(mfa_user, extra=2)
    _record(other_user, extra=60)
    small = _queries(make_mfa_client(mfa_user))
    large = _queries(make_mfa_client(other_user))
    print("queries per page, small and large two-network record:", large)
    assert small == large
    assert max(large.values()) <= MOST_QUERIES


def test_a_labs_page_full_of_items_from_both_networks_stays_within_its_query_budget(
    mfa_user, client_mfa, private_storage_dir, django_assert_max_num_queries
):
    _record(mfa_user, extra=40)
    client_mfa.get(reverse("records:category", args=["labs"]))
    with django_assert_max_num_queries(MOST_QUERIES):
        page = client_mfa.get(reverse("records:category", args=["labs"])).content.decode()
    assert page.count("via Metriport and via Particle") >= 20  # a page of results reported through both
