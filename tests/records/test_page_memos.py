"""What a record page works out once per distinct value (`page_language.remembered`): a test's names
by its `code`, status words by type and status, units by (unit, code). Each is keyed by everything it
reads, kept for one page only (a new page starts empty, in its own language), and the same as what
is worked out afresh."""

import pytest
from django.utils import timezone, translation

from records import fhir, page_language, selectors

LOINC_GLUCOSE = {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}


def _result(code: dict, *, status: str = "final", unit: str = "mg/dL", ucum: str = "mg/dL") -> dict:
    return {
        "resourceType": "Observation",
        "status": status,
        "code": code,
        "effectiveDateTime": "2024-03-14",
        "valueQuantity": {"value": 5, "unit": unit, "system": "http://unitsofmeasure.org", "code": ucum},
    }


RESULTS = [
    _result({"text": "Ferritin"}),
    _result({"text": "Ferritin "}),
    _result({"text": "Lipase"}, status="amended", unit="[IU]/L", ucum="[IU]/L"),
    _result(LOINC_GLUCOSE),
    _result({"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose [Mass/volume]"}]}),
    _result({"coding": [{"system": "http://snomed.info/sct", "code": "2345-7"}]}, status="preliminary"),
    _result({"text": "Ferritin"}, status="Final", unit="mmol/L", ucum="mmol/L"),
    {**_result({"text": "Panel"}), "resourceType": "DiagnosticReport"},
    {
        "resourceType": "Condition",
        "code": {"text": "Asthma"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "verificationStatus": {"coding": [{"code": "provisional"}]},
    },
    {"resourceType": "Condition", "code": {"text": "Asthma"}, "clinicalStatus": {"coding": [{"code": "resolved"}]}},
    {"resourceType": "Goal", "description": {"text": "Walk"}, "lifecycleStatus": "active", "status": "active"},
    {"resourceType": "Goal", "description": {"text": "Walk"}, "lifecycleStatus": "completed", "status": "active"},
    {"resourceType": "FamilyMemberHistory", "status": "completed", "relationship": {"text": "Mother"}},
]


def _described(resources: list[dict]) -> list[fhir.Display]:
    return [fhir.describe(r) for r in resources]


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_page_describes_every_row_as_each_row_alone_would_be(language):
    with translation.override(language), timezone.override("UTC"):
        alone = [_described([r])[0] for r in RESULTS]  # outside a page: nothing remembered
        with page_language.fixed():
            twice = _described(RESULTS + RESULTS)  # the second pass is answered from the memos
            assert page_language.remembered("fhir names by code")
            assert page_language.remembered("fhir status words")
            assert page_language.remembered("fhir units")
        assert twice == alone + alone
        units = [fhir.unit_display(r["valueQuantity"]) for r in RESULTS if "valueQuantity" in r]
        with page_language.fixed():
            assert [fhir.unit_display(r["valueQuantity"]) for r in RESULTS if "valueQuantity" in r] == units


def test_what_a_page_remembered_is_never_read_by_the_next_page_in_another_language():
    with timezone.override("UTC"):
        with translation.override("en"), page_language.fixed():
            english = _described(RESULTS)
        with translation.override("es"), page_language.fixed():
            spanish = _described(RESULTS)
            assert page_language.remembered("fhir status words") is not None
        with translation.override("es"):
            assert spanish == _described(RESULTS)
    assert [d.status for d in english][:3] == ["Final", "Final", "Amended"]
    assert [d.status for d in spanish][:3] == ["Final", "Final", "Modificado"]
    assert [d.value for d in english][2] == "5 IU/L" and [d.value for d in spanish][2] == "5 UI/L"


def test_a_trends_value_text_from_its_measure_is_the_quantitys_text():
    quantities = [
        {"value": 5.0, "unit": "mg/dL"},
        {"value": 0.5, "comparator": "<", "unit": "mmol/L", "code": "mmol/L"},
        {"value": 7, "comparator": "≈", "code": "%"},
        {"value": 98.6, "unit": "[degF]", "code": "[degF]"},
        {"value": 12, "unit": "/min"},
        {"value": 3},
    ]
    for language in ("en", "es"):
        with translation.override(language), page_language.fixed():
            for quantity in quantities:
                measure = fhir.observation_measure({"valueQuantity": quantity})
                assert measure is not None
                assert fhir.measure_text(measure) == fhir.format_quantity(quantity), quantity


def test_stored_json_that_orjson_refuses_is_still_read():
    assert selectors.json_of('{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    assert selectors.json_of('{"value": NaN}')["value"] != 0  # json reads NaN; orjson refuses it


@pytest.mark.django_db
def test_listed_rows_carry_the_json_stored_for_them(mfa_user, private_storage_dir):
    from records.models import Resource
    from tests.records.conftest import generated, ingest_bundle

    ingest_bundle(mfa_user, generated("mixed", size=300))
    listing = selectors.category_list(user=mfa_user, category="labs")
    rows = [*listing.items, *(child for it in listing.items for child in it.children)]
    rows += selectors.summary_for(user=mfa_user).conditions
    assert len(rows) > 10
    stored = dict(Resource.objects.filter(pk__in=[it.pk for it in rows]).values_list("pk", "raw"))
    for it in rows:
        assert isinstance(it.resource.raw, dict) and it.resource.raw == stored[it.pk]
        assert "raw_text" not in it.resource.__dict__
