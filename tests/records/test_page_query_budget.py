"""Every record page answers in at most 15 queries on PostgreSQL, the shell included (session, person,
second factor, time zone, journey banner, access log line), whatever the size of the record. SQLite
cannot order and slice the parts of one union, so there the summary's lists take a query each."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from records.models import Resource
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db

MOST_QUERIES = 15 if connection.features.supports_slicing_ordering_in_compound else 21


def _pages(user) -> list[str]:
    mine = Resource.objects.filter(user=user, is_primary=True, retired_at__isnull=True)
    lab = mine.filter(category="labs", value_num__isnull=False).order_by("-clinical_date").first()
    report = mine.filter(resource_type="DiagnosticReport").first()
    visit = mine.filter(resource_type="Encounter").first()
    assert lab is not None and report is not None and visit is not None
    categories = [reverse("records:category", args=[c]) for c in ("conditions", "medications", "labs", "vitals")]
    categories += [reverse("records:category", args=[c]) for c in ("allergies", "encounters", "documents")]
    return [
        reverse("records:summary"),
        reverse("records:timeline"),
        reverse("records:access_history"),
        reverse("records:downloads"),
        *categories,
        reverse("records:category", args=["labs"]) + "?page=3",
        reverse("records:category", args=["labs"]) + "?flag=abnormal&sort=name",
        reverse("records:trend", args=[lab.pk]),
        reverse("records:item", args=[lab.pk]),
        reverse("records:item", args=[report.pk]),
        reverse("records:item", args=[visit.pk]),
        reverse("records:print"),
    ]


def test_every_record_page_stays_within_the_query_budget(
    mfa_user, make_mfa_client, private_storage_dir, django_assert_max_num_queries
):
    ingest_bundle(mfa_user, generated("mixed", size=1500))
    # A second search that brings more: the pages mark what is new.
    ingest_bundle(mfa_user, generated("clean", size=600), request_id="req-2", retire=False)
    client = make_mfa_client(mfa_user)
    for url in _pages(mfa_user):
        client.get(url)  # the first page of a session notes the activity
        with django_assert_max_num_queries(MOST_QUERIES):
            assert client.get(url).status_code == 200, url
