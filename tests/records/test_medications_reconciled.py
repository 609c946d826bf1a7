"""Prescriptions, statements and dispenses of one drug are one line, current or past, with the last fill."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from records import selectors
from records.models import Resource
from tests.records.conftest import generated, ingest_bundle
from tests.records.fixtures.converter_shaped import converter_bundle


@pytest.fixture
def owner(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, converter_bundle())
    return mfa_user


def _by_name(groups):
    return {g.name: g for g in groups}


@pytest.mark.django_db
def test_current_and_past_follow_the_newest_evidence(owner):
    meds = selectors.medications_reconciled(user=owner)
    current, past = _by_name(meds.current), _by_name(meds.past)
    # a completed old prescription and a status-less statement, but a fill 20 days ago: current
    metformin = current["metformin hydrochloride 500 MG Oral Tablet"]
    assert len(metformin.items) == 3
    # the fill's instant is given in UTC; its date as given, whatever the hour here
    assert metformin.last_filled.text[:10] == (datetime.now(UTC) - timedelta(days=20)).date().isoformat()
    # an active statement naming a Medication resource coded only in RxNorm
    assert "lisinopril 10 MG Oral Tablet" in current
    # a stopped prescription, a fill two years ago, a statement without status: past, still shown
    assert "atorvastatin 20 MG Oral Tablet" in past
    assert past["Amoxicillin 500 mg capsule"].last_filled is not None
    assert past["Omeprazole 20 mg capsule"].status == "Status not given"
    assert len(meds.current) + len(meds.past) == 5


@pytest.mark.django_db
def test_medications_page_and_summary_show_the_reconciled_lists(owner, client_mfa):
    page = client_mfa.get(reverse("records:category", args=["medications"])).content.decode()
    assert "2 current and 3 past medications" in page
    assert "A medication is current when" in page
    assert "Last filled" in page
    current = page.split('id="current-title"', 1)[1].split("</section>", 1)[0]
    assert "metformin hydrochloride 500 MG Oral Tablet" in current and "atorvastatin" not in current
    summary = client_mfa.get(reverse("records:summary")).content.decode()
    summary_meds = summary.split('id="med-title"', 1)[1].split("</section>", 1)[0]
    assert "lisinopril 10 MG Oral Tablet" in summary_meds and "Omeprazole" not in summary_meds


@pytest.mark.django_db
def test_medication_search_matches_any_name_of_the_drug(owner, client_mfa):
    url = reverse("records:category", args=["medications"])
    client_mfa.post(url, {"q": "metFORMIN 500 mg"})
    page = client_mfa.get(url).content.decode()
    assert "metformin hydrochloride 500 MG Oral Tablet" in page and "lisinopril" not in page


@pytest.mark.django_db
def test_a_long_medication_history_is_described_only_where_a_line_shows_it(mfa_user, private_storage_dir):
    """The rule reads columns; each line describes its newest copy, its name, its verdict and its last
    fill, and every copy still reads as a full item when asked for."""
    ingest_bundle(mfa_user, generated("mixed", size=3000))
    meds = selectors.medications_reconciled(user=mfa_user)
    groups = [*meds.current, *meds.past]
    copies = groups[0].copies
    every_row = sum(len(g.rows) for g in groups)
    assert every_row > 4 * len(groups)
    assert len(copies.described) <= 4 * len(groups)
    for group in groups:
        for item in group.items:
            stored = Resource.objects.get(pk=item.pk)
            columns = [f"{name}_id" if name == "first_snapshot" else name for name in selectors.LIST_FIELDS]
            assert [getattr(item.resource, c) for c in columns] == [getattr(stored, c) for c in columns]
            whole = selectors.to_item(stored)
            assert (item.display.name, item.display.date, item.display.status, item.display.value) == (
                whole.display.name,
                whole.display.date,
                whole.display.status,
                whole.display.value,
            )
        assert group.latest.display.date == max(
            (i.display.date for i in group.items if i.display.date), key=lambda d: d.sort_key, default=None
        )
    assert len(copies.described) == every_row
