"""A trend reads each result's JSON without the parts it never shows (PostgreSQL drops them in the
query): values, units and the usual range are what the whole resources give."""

from collections import Counter

import pytest

from records import fhir, selectors
from records.models import Resource
from tests.records.conftest import generated, ingest_bundle

pytestmark = pytest.mark.django_db


def test_a_trend_shows_what_the_whole_results_say(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, generated("mixed", size=1500))
    labs = Resource.objects.filter(user=mfa_user, category="labs", is_primary=True, value_num__isnull=False)
    code = Counter(labs.values_list("code", flat=True)).most_common(1)[0][0]
    anchor = labs.filter(code=code).order_by("-clinical_date").first()
    assert anchor is not None
    trend = selectors.trend_for(user=mfa_user, pk=anchor.pk)
    assert len(trend.points) > 5
    wholes = {r.pk: r.raw for r in Resource.objects.filter(pk__in=[p["pk"] for p in trend.points])}
    assert [p["value_text"] for p in trend.points] == [
        fhir.observation_value_text(wholes[p["pk"]]) for p in trend.points
    ]
    first = fhir.observation_measure(wholes[trend.points[0]["pk"]])
    assert trend.unit == (first.unit if first and first.unit else fhir.ucum_display(anchor.value_unit))
    votes = Counter(
        next(
            (
                (r.low, r.high, r.unit_key)
                for r in fhir.reference_ranges(wholes[p["pk"]])
                if r.numeric and r.is_normal and r.unit_key in (anchor.value_unit, "")
            ),
            None,
        )
        for p in trend.points
    )
    votes.pop(None, None)
    assert trend.band is not None and votes
    assert (trend.band.low, trend.band.high, trend.band.unit_key) == votes.most_common(1)[0][0]
