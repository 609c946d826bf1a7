"""The summary's vitals: the newest reading of each common vital among the 300 newest readings, found in
one query on PostgreSQL (`DISTINCT ON` the code in a subquery) and in two elsewhere."""

import pytest
from django.db import connection

from records import selectors
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db


def _expected(user) -> list[int]:
    readings = (
        selectors.resources_for(user=user)
        .filter(
            is_primary=True,
            category="vitals",
            code_system="http://loinc.org",
            code__in=selectors.SUMMARY_VITALS,
            clinical_date__isnull=False,
        )
        .order_by("-clinical_date", "-id")
        .values_list("pk", "code")[:300]
    )
    newest: dict[str, int] = {}
    for pk, code in readings:
        newest.setdefault(code, pk)
    return [newest[code] for code in selectors.SUMMARY_VITALS if code in newest]


def test_the_newest_reading_of_each_vital_in_one_query_on_postgresql(
    mfa_user, private_storage_dir, django_assert_num_queries
):
    ingest_bundle(mfa_user, generated("mixed", size=3000))
    expected = _expected(mfa_user)
    assert len(expected) > 3
    with django_assert_num_queries(1 if connection.features.can_distinct_on_fields else 2):
        vitals = selectors.latest_vitals(user=mfa_user)
    assert [item.pk for item in vitals] == expected
    assert all(item.display.value for item in vitals)


def test_no_vitals_is_an_empty_list(mfa_user, private_storage_dir):
    assert selectors.latest_vitals(user=mfa_user) == []
