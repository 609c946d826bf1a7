"""A record page reads its language and zone once and translates each sentence once
(`records.page_language`); what it remembers must follow the reader's language from one page to the
next, and a language switched inside a page must be honoured."""

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from records import fhir, page_language
from tests.records.conftest import ingest_bundle

pytestmark = pytest.mark.django_db


def _lab_bundle() -> dict:
    when = "2024-03-14T15:30:00Z"
    results = [
        {
            "resourceType": "Observation",
            "id": f"result-{n}",
            "status": status,
            "category": [{"coding": [{"code": "laboratory"}]}],
            "code": {"text": name},
            "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "[IU]/L", "system": "http://unitsofmeasure.org"},
            "interpretation": [{"coding": [{"code": flag}]}],
        }
        for n, (name, status, value, flag) in enumerate(
            [("Ferritin", "preliminary", 410, "H"), ("Lipase", "amended", 5, "L"), ("Amylase", "preliminary", 300, "H")]
        )
    ]
    panel = {
        "resourceType": "DiagnosticReport",
        "id": "panel",
        "status": "corrected",
        "category": [{"coding": [{"code": "LAB"}]}],
        "code": {"text": "Enzyme panel"},
        "effectiveDateTime": when,
        "result": [{"reference": f"Observation/{r['id']}"} for r in results],
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in [panel, *results]],
    }


ENGLISH = [">Preliminary<", ">Amended<", ">Corrected<", ">High<", ">Low<", "410 IU/L"]
ENGLISH += ["Mar 14, 2024, 11:30 AM EDT"]
SPANISH = [">Preliminar<", ">Modificado<", ">Corregido<", ">Alto<", ">Bajo<", "410 UI/L"]
SPANISH += ["14 mar 2024, 11:30 a. m. EDT"]


def test_the_labs_page_speaks_each_readers_language_in_turn(client_mfa, mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, _lab_bundle())
    mfa_user.time_zone = "America/New_York"
    url = reverse("records:category", args=["labs"])
    for language, expected, other in [("en", ENGLISH, SPANISH), ("es", SPANISH, ENGLISH), ("en", ENGLISH, SPANISH)]:
        mfa_user.language = language
        mfa_user.save(update_fields=["language", "time_zone"])
        page = client_mfa.get(url).content.decode()
        for words in expected:
            assert words in page, (language, words)
        for words in other:
            if words not in expected:
                assert words not in page, (language, words)


def test_a_page_remembers_words_only_for_itself():
    with translation.override("en"), timezone.override("UTC"):
        with page_language.fixed():
            assert fhir.format_fhir_date("2024-03-14") == "Mar 14, 2024"
            assert fhir.words_in_language("Preliminary") == "Preliminary"
            with page_language.speaking("es"):
                assert fhir.format_fhir_date("2024-03-14") == "14 mar 2024"
                assert fhir.words_in_language("Preliminary") == "Preliminar"
            assert fhir.format_fhir_date("2024-03-14T15:30:00Z") == "Mar 14, 2024, 3:30 PM UTC"
            assert fhir.words_in_language("Preliminary") == "Preliminary"
        with translation.override("es"), timezone.override("America/New_York"), page_language.fixed():
            assert fhir.format_fhir_date("2024-03-14") == "14 mar 2024"
            assert fhir.format_fhir_date("2024-03-14T15:30:00Z") == "14 mar 2024, 11:30 a. m. EDT"
            assert fhir.words_in_language("Preliminary") == "Preliminar"
            assert page_language.pgettext("status of a condition or an allergy", "Active") == translation.pgettext(
                "status of a condition or an allergy", "Active"
            )
        assert page_language.remembered("anything") is None
        assert fhir.words_in_language("Preliminary") == "Preliminary"


def test_once_per_page_computes_each_key_once_a_page_and_every_time_outside_one():
    calls: list[str] = []

    def computed(key: str):
        def compute() -> str:
            calls.append(key)
            return f"{key}-{len(calls)}"

        return compute

    with page_language.fixed():
        assert page_language.once_per_page("test", "a", computed("a")) == "a-1"
        assert page_language.once_per_page("test", "a", computed("a")) == "a-1"
        assert page_language.once_per_page("test", "b", computed("b")) == "b-2"
        assert page_language.once_per_page("other", "a", computed("a")) == "a-3"
    with page_language.fixed():
        assert page_language.once_per_page("test", "a", computed("a")) == "a-4"
    assert page_language.once_per_page("test", "a", computed("a")) == "a-5"
    assert page_language.once_per_page("test", "a", computed("a")) == "a-6"
    assert calls == ["a", "b", "a", "a", "a", "a"]


def test_reference_ranges_read_once_a_page_follow_the_language():
    observation = {
        "resourceType": "Observation",
        "referenceRange": [{"low": {"value": 20, "unit": "[IU]/L"}, "high": {"value": 300, "unit": "[IU]/L"}}],
    }
    with translation.override("en"), page_language.fixed():
        first = fhir.reference_ranges(observation)
        assert [(r.low, r.high, r.unit) for r in first] == [(20, 300, "IU/L")]
        first.clear()  # a caller's list is its own
        assert [r.unit for r in fhir.reference_ranges(observation)] == ["IU/L"]
        with page_language.speaking("es"):
            assert [r.unit for r in fhir.reference_ranges(observation)] == ["UI/L"]
    with translation.override("es"), page_language.fixed():
        assert [r.unit for r in fhir.reference_ranges(observation)] == ["UI/L"]
    assert fhir.reference_ranges({"referenceRange": "not a list"}) == []
