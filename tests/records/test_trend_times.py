"""A trend's results keep their stored times to the microsecond (on PostgreSQL they are read as
microseconds since 1970, which the driver reads faster than Django parses a timestamp)."""

from collections import Counter
from datetime import UTC, datetime

import pytest

from records import selectors
from records.models import Resource
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db


def test_each_point_s_time_is_the_stored_one(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=1500))
    labs = Resource.objects.filter(user=mfa_user, category="labs", is_primary=True, value_num__isnull=False)
    code = Counter(labs.values_list("code", flat=True)).most_common(1)[0][0]
    same = labs.filter(code=code).order_by("clinical_date")
    exact = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
    Resource.objects.filter(pk=same[0].pk).update(clinical_date=exact)
    newest = same.last()
    assert newest is not None
    trend = selectors.trend_for(user=mfa_user, pk=newest.pk)
    stored = dict(Resource.objects.filter(pk__in=[p["pk"] for p in trend.points]).values_list("pk", "clinical_date"))
    assert len(trend.points) > 5
    assert [p["when"] for p in trend.points] == [stored[p["pk"]] for p in trend.points]
    assert exact in [p["when"] for p in trend.points]
    assert all(p["when"] is None or p["when"].tzinfo is UTC for p in trend.points)
