"""Searching lab results with Spanish words finds the common tests, with or without accents."""

import re

import pytest
from django.urls import reverse

from records import terminology
from tests.records.conftest import ingest_bundle
from tests.records.fixtures.converter_shaped import converter_bundle


@pytest.fixture
def owner(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, converter_bundle())
    return mfa_user


def _search(client, words: str) -> set[str]:
    url = reverse("records:category", args=["labs"])
    client.post(url, {"q": words}, HTTP_ACCEPT_LANGUAGE="es")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    return set(re.findall(r'class="record-row__name"[^>]*>([^<]+)</a>', page))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("words", "found", "not_found"),
    [
        ("azúcar", {"Azúcar en la sangre (glucosa)", "Hemoglobina A1c"}, {"Potasio", "Creatinina"}),
        ("azucar", {"Azúcar en la sangre (glucosa)"}, {"Potasio"}),
        ("glucosa", {"Azúcar en la sangre (glucosa)"}, {"Creatinina"}),
        ("riñón", {"Función renal (TFGe)", "Creatinina"}, {"Potasio", "Azúcar en la sangre (glucosa)"}),
        ("riñones", {"Función renal (TFGe)", "Creatinina"}, {"Potasio"}),
        ("TFGe", {"Función renal (TFGe)"}, {"Creatinina"}),
        ("colesterol", {"Colesterol LDL"}, {"Potasio"}),
        ("potasio", {"Potasio"}, {"Creatinina"}),
        ("creatinina", {"Creatinina"}, {"Potasio"}),
    ],
)
def test_spanish_words_find_the_common_tests(owner, client_mfa, words, found, not_found):
    names = _search(client_mfa, words)
    assert found <= names, names
    assert not not_found & names, names


def test_the_words_reach_the_lab_codes():
    assert {"2345-7", "4548-4"} <= terminology.lab_codes_matching("azúcar")
    assert "98979-8" in terminology.lab_codes_matching("riñón")
    assert "98979-8" not in terminology.lab_codes_matching("potasio")
