"""The timeline finds a page's visits by their ids first, walking the visits' date index, and counts its
pages from the census: every page holds the visits that slicing the whole ordered list gives, and only
the page's visits have their JSON read."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records import selectors
from records.models import RecordCensus, Resource
from records.services import census_refresh
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db


def _visits_newest_first(user) -> list[int]:
    visits = selectors.resources_for(user=user).filter(resource_type="Encounter", is_primary=True)
    return list(visits.order_by("-clinical_date", "-id").values_list("pk", flat=True))


def test_every_timeline_page_holds_the_visits_of_the_whole_ordered_list(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=1500))
    first, _visits = selectors.timeline_for(user=mfa_user, per_page=4)
    assert first.paginator.num_pages > 2
    shown = [
        visit.encounter.pk
        for number in range(1, first.paginator.num_pages + 1)
        for visit in selectors.timeline_for(user=mfa_user, page=number, per_page=4)[1]
    ]
    assert shown == _visits_newest_first(mfa_user)
    assert first.paginator.count == len(shown)


def test_the_number_of_visits_comes_from_the_census_else_is_counted(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=1500))
    visits = len(_visits_newest_first(mfa_user))
    assert selectors.timeline_for(user=mfa_user)[0].paginator.count == visits
    census = RecordCensus.objects.get(user=mfa_user)
    visit_groups = [g for g in census.groups if g[2] == "Encounter" and g[3]]
    visit_groups[0][6] += 100
    census.save()
    assert selectors.timeline_for(user=mfa_user)[0].paginator.count == visits + 100
    census.delete()
    assert selectors.timeline_for(user=mfa_user)[0].paginator.count == visits


def test_only_the_page_s_visits_have_their_json_read(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=1500))
    with CaptureQueriesContext(connection) as ctx:
        selectors.timeline_for(user=mfa_user, page=2, per_page=4)
    reads = [
        q["sql"]
        for q in ctx.captured_queries
        if '"raw"' in q["sql"]
        and q["sql"].endswith('ORDER BY "records_resource"."clinical_date" DESC, "records_resource"."id" DESC')
    ]
    assert len(reads) == 1
    outer, _, inner = reads[0].partition(" IN (SELECT ")
    assert inner, reads[0]
    assert "LIMIT 4 OFFSET 4" in inner and "LIMIT" not in outer
    assert "'encounters'" in inner  # by category too: the category's date index gives the order


def test_a_visit_that_is_not_primary_is_neither_listed_nor_counted(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=1500))
    everything = _visits_newest_first(mfa_user)
    Resource.objects.filter(pk=everything[0]).update(is_primary=False)
    census_refresh(user_id=mfa_user.pk)
    page, visits = selectors.timeline_for(user=mfa_user, per_page=4)
    assert page.paginator.count == len(everything) - 1
    assert [v.encounter.pk for v in visits] == everything[1:5]
