"""A missing status is said ("Status not given") and never hides an item."""

import pytest
from django.urls import reverse

from tests.records.conftest import ingest_bundle
from tests.records.fixtures.converter_shaped import converter_bundle


@pytest.fixture
def owner(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, converter_bundle())
    return mfa_user


@pytest.mark.django_db
def test_summary_shows_conditions_without_status_in_their_own_group(owner, client_mfa):
    page = client_mfa.get(reverse("records:summary")).content.decode()
    assert "No active conditions on record" not in page
    group = page.split('id="cond-nostatus-title"', 1)[1].split("</section>", 1)[0]
    assert "Essential (primary) hypertension" in group
    assert "Underactive thyroid (hypothyroidism)" in group
    assert "Type 2 diabetes" not in group  # it has a status: active
    assert "Type 2 diabetes" in page.split('id="cond-nostatus-title"', 1)[0]


@pytest.mark.django_db
def test_conditions_page_filters_on_status_not_given(owner, client_mfa):
    url = reverse("records:category", args=["conditions"])
    page = client_mfa.get(url + "?status=not-given").content.decode()
    assert "Essential (primary) hypertension" in page and "Status not given" in page
    assert "Seasonal allergic rhinitis" not in page
    assert "Seasonal allergic rhinitis" in client_mfa.get(url).content.decode()


@pytest.mark.django_db
def test_allergies_without_status_are_on_the_summary_by_their_substance(owner, client_mfa):
    page = client_mfa.get(reverse("records:summary")).content.decode()
    allergies = page.split('id="allergy-title"', 1)[1].split("</section>", 1)[0]
    for name in ("Penicillin", "Peanuts", "Latex"):
        assert name in allergies
    assert "Status not given" in allergies
