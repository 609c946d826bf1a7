"""Searching lab results finds results inside panels, everyday names and synonyms."""

import re

import pytest
from django.urls import reverse

from records.models import Resource
from tests.records.conftest import ingest_bundle
from tests.records.fixtures.converter_shaped import converter_bundle


@pytest.fixture
def owner(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, converter_bundle())
    return mfa_user


def _search(client, words: str) -> str:
    url = reverse("records:category", args=["labs"])
    client.post(url, {"q": words})
    return client.get(url).content.decode()


def _names(page: str) -> set[str]:
    return set(re.findall(r'class="record-row__name"[^>]*>([^<]+)</a>', page))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("words", "found", "not_found"),
    [
        ("sugar", {"Blood sugar (glucose)", "Hemoglobin A1c"}, {"Potassium", "Creatinine"}),
        ("kidney", {"Kidney function (eGFR)", "Creatinine"}, {"Potassium", "Blood sugar (glucose)"}),
        ("cholesterol", {"Cholesterol (LDL)"}, {"Potassium"}),
        ("potassium", {"Potassium"}, {"Creatinine"}),
        ("eGFR", {"Kidney function (eGFR)"}, {"Creatinine"}),
        ("creatinine", {"Creatinine"}, {"Potassium"}),
        ("Serum or Plasma", set(), {"Hemoglobin A1c"}),
    ],
)
def test_search_finds_panel_members_everyday_names_and_synonyms(owner, client_mfa, words, found, not_found):
    page = _search(client_mfa, words)
    names = _names(page)
    assert found <= names, names
    assert not not_found & names, names
    if found:
        assert "Nothing matches your search" not in page


@pytest.mark.django_db
def test_panel_found_through_its_results_is_shown_with_them(owner, client_mfa):
    page = _search(client_mfa, "potassium")
    assert "Comprehensive metabolic panel (CMP)" in page
    assert "open the panel to see them all" in page


@pytest.mark.django_db
def test_detail_page_gives_the_official_name(owner, client_mfa):
    row = Resource.objects.get(user=owner, resource_type="Observation", code="98979-8")
    page = client_mfa.get(reverse("records:item", args=[row.pk])).content.decode()
    assert "<h1>Kidney function (eGFR)</h1>" in page
    assert "Official name" in page and "Creatinine-based formula (CKD-EPI 2021)" in page


@pytest.mark.django_db
def test_lab_page_says_what_it_counts(owner, client_mfa):
    page = client_mfa.get(reverse("records:category", args=["labs"])).content.decode()
    # two panels and one separate result, holding six single results
    assert "3 panels and separate results, holding 6 single results in all" in page
