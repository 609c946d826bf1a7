"""The display helpers on ordinary, odd and hostile FHIR."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records import fhir


def _flag_code(observation: dict, **context: Any) -> str | None:
    """The interpretation flag's code, or None when there is no flag."""
    flag = fhir.interpretation_flag(observation, **context)
    return flag.code if flag is not None else None


L, S, RX, ICD = fhir.LOINC, fhir.SNOMED, fhir.RXNORM, fhir.ICD10CM


@pytest.mark.parametrize(
    ("concept", "name"),
    [
        ({"text": "Sugar diabetes", "coding": [{"system": S, "code": "1", "display": "Diabetes"}]}, "Sugar diabetes"),
        (
            {
                "text": "  ",
                "coding": [{"system": "urn:x", "display": "Local"}, {"system": S, "code": "1", "display": "Diabetes"}],
            },
            "Diabetes",
        ),
        (
            {
                "coding": [
                    {"system": ICD, "code": "E11", "display": "T2DM"},
                    {"system": L, "code": "x", "display": "Loinc one"},
                ]
            },
            "Loinc one",
        ),
        ({"coding": [{"system": "urn:x", "display": "Local only"}]}, "Local only"),
        ({"coding": [{"system": ICD, "code": "E11.9"}]}, "Type 2 diabetes mellitus without complications"),
        ({"coding": [{"system": ICD, "code": "ZZZ.99"}]}, "ICD-10-CM ZZZ.99"),
        ({"coding": [{"code": "ABC"}]}, "ABC"),
        ({"coding": "not a list"}, ""),
        ({"coding": [None, 5, {"display": 7}]}, ""),
        ("text", ""),
        (None, ""),
    ],
)
def test_concept_name(concept, name):
    assert fhir.concept_name(concept) == name


def test_medication_reference_resolved_contained_then_bundle():
    contained = {
        "resourceType": "MedicationStatement",
        "contained": [{"resourceType": "Medication", "id": "m", "code": {"text": "Lisinopril"}}],
        "medicationReference": {"reference": "#m"},
    }
    assert fhir.medication_name(contained) == "Lisinopril"
    bundled = {"medicationReference": {"reference": "Medication/1", "display": "fallback"}}
    assert fhir.medication_name(bundled) == "fallback"
    med = {"resourceType": "Medication", "code": {"coding": [{"system": RX, "code": "1", "display": "Metformin"}]}}
    assert fhir.medication_name(bundled, resolve={"Medication/1": med}.get) == "Metformin"

    def broken(_ref):
        raise RuntimeError("boom")

    assert fhir.medication_name(bundled, resolve=broken) == "fallback"


@pytest.mark.parametrize(
    ("resource", "text"),
    [
        (
            {"resourceType": "Observation", "effectiveDateTime": "2020-01-02", "issued": "2020-01-05T00:00:00Z"},
            "2020-01-02",
        ),
        ({"resourceType": "Observation", "effectivePeriod": {"start": "2020-02"}}, "2020-02"),
        (
            {"resourceType": "Observation", "issued": "2020-01-05T00:00:00Z", "meta": {"lastUpdated": "2024-01-01"}},
            "2020-01-05T00:00:00Z",
        ),
        ({"resourceType": "Condition", "onsetDateTime": "2019", "recordedDate": "2020-01-01"}, "2019"),
        ({"resourceType": "Condition", "onsetString": "childhood", "recordedDate": "2020-01-01"}, "2020-01-01"),
        ({"resourceType": "Procedure", "performedPeriod": {"start": "2010-07-20"}}, "2010-07-20"),
        ({"resourceType": "Immunization", "occurrenceDateTime": "2021-04"}, "2021-04"),
        ({"resourceType": "MedicationRequest", "authoredOn": "2023-03-14"}, "2023-03-14"),
        ({"resourceType": "Encounter", "period": {"start": "2023-03-14T09:30:00-05:00"}}, "2023-03-14T09:30:00-05:00"),
        ({"resourceType": "DocumentReference", "context": {"period": {"start": "2022-05-05"}}}, "2022-05-05"),
        ({"resourceType": "AllergyIntolerance", "recordedDate": "2015-06-01"}, "2015-06-01"),
    ],
)
def test_clinical_date_per_type(resource, text):
    clinical = fhir.clinical_date(resource)
    assert clinical is not None
    assert clinical.text == text


def test_clinical_date_never_uses_last_updated_and_rejects_garbage():
    assert fhir.clinical_date({"resourceType": "Observation", "meta": {"lastUpdated": "2024-01-01"}}) is None
    for bad in (
        "2020-13-01",
        "2020-02-30",
        "yesterday",
        "",
        None,
        2020,
        "2020-01-01T25:00:00Z",
        "2020-01-01T10:00:00+99:00",
    ):
        assert fhir.parse_fhir_date(bad) is None


def test_partial_dates_shown_as_given_and_sort_by_time():
    assert fhir.format_fhir_date("2019") == "2019"
    assert fhir.format_fhir_date("2019-03") == "Mar 2019"
    assert fhir.format_fhir_date("2019-03-14") == "Mar 14, 2019"
    chicago = ZoneInfo("America/Chicago")
    assert fhir.format_fhir_date("2019-03-14T09:30:00-05:00", zone=chicago) == "Mar 14, 2019, 9:30 AM CDT"
    parsed = fhir.parse_fhir_date("2019-03-14T23:30:00-05:00")
    assert parsed is not None
    assert parsed.sort_key == datetime(2019, 3, 15, 4, 30, tzinfo=UTC)
    year = fhir.parse_fhir_date("2019")
    assert year is not None
    assert year.precision == "year"


def test_quantities_with_ucum_units():
    assert fhir.format_quantity({"value": 7.2, "unit": "%", "code": "%"}) == "7.2%"
    assert fhir.format_quantity({"value": 98.6, "system": fhir.UCUM, "code": "[degF]"}) == "98.6 °F"
    assert fhir.format_quantity({"value": 5.0, "code": "mmol/L"}) == "5 mmol/L"
    assert fhir.format_quantity({"value": 5, "comparator": "<", "unit": "mg/dL"}) == "< 5 mg/dL"
    assert fhir.format_quantity({"value": "5"}) == ""
    assert fhir.format_quantity({"value": float("nan")}) == ""
    assert fhir.unit_key({"unit": "mg/dl", "system": fhir.UCUM, "code": "mg/dL"}) == "mg/dL"


def _obs(value, unit="mmol/L", ranges: Iterable[dict] = (), interpretation=None, **extra) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "valueQuantity": {"value": value, "unit": unit, "code": unit, "system": fhir.UCUM},
        "referenceRange": list(ranges),
    }
    if interpretation:
        obs["interpretation"] = [{"coding": [{"code": interpretation}]}]
    obs.update(extra)
    return obs


@pytest.mark.parametrize(
    ("code", "label", "tone"),
    [
        ("H", "High", "warn"),
        ("L", "Low", "warn"),
        ("HH", "Critically high", "bad"),
        ("LL", "Critically low", "bad"),
        ("A", "Abnormal", "warn"),
        ("AA", "Critically abnormal", "bad"),
        ("N", "Normal", "ok"),
    ],
)
def test_interpretation_flags_win(code, label, tone):
    flag = fhir.interpretation_flag(_obs(4.0, ranges=[{"text": "3.5-5.0 mmol/L"}], interpretation=code))
    assert flag is not None
    assert (flag.code, flag.label, flag.tone, flag.computed) == (code, label, tone, False)


def test_interpretation_in_words_and_critical_text():
    obs = {"interpretation": [{"text": "Critical"}]}
    assert _flag_code(obs) == "AA"
    assert _flag_code({"interpretation": [{"coding": [{"display": "High"}]}]}) == "H"


def test_computed_flag_only_when_units_match():
    high_range = {"low": {"value": 3.9, "code": "mmol/L"}, "high": {"value": 5.5, "code": "mmol/L"}}
    assert _flag_code(_obs(9.0, ranges=[high_range])) == "H"
    assert _flag_code(_obs(2.0, ranges=[high_range])) == "L"
    assert _flag_code(_obs(4.0, ranges=[high_range])) == "N"
    assert fhir.interpretation_flag(_obs(250, unit="mg/dL", ranges=[high_range])) is None
    assert fhir.interpretation_flag(_obs(9.0, ranges=[{"text": "3.5-5.0"}])) is None  # range gives no unit


def test_text_ranges_and_comparators():
    assert _flag_code(_obs(3.1, ranges=[{"text": "3.5 - 5.0 mmol/L"}])) == "L"
    assert _flag_code(_obs(6, unit="", ranges=[{"text": "<5"}])) == "H"
    assert _flag_code(_obs(5, unit="", ranges=[{"text": "<5"}])) == "H"  # strict bound
    assert _flag_code(_obs(5, unit="", ranges=[{"text": "<=5"}])) == "N"
    gfr = {"low": {"value": 60, "code": "mL/min"}}
    assert _flag_code(_obs(45, unit="mL/min", ranges=[gfr])) == "L"
    less_than = _obs(1, unit="mL/min", ranges=[{"high": {"value": 5, "code": "mL/min"}}])
    less_than["valueQuantity"]["comparator"] = "<"
    assert fhir.interpretation_flag(less_than) is None or _flag_code(less_than) != "H"
    assert fhir.parse_text_range("5.0-3.5") is None
    assert fhir.parse_text_range("negative") is None


_HIGH_RANGE = {"low": {"value": 3.9, "code": "mmol/L"}, "high": {"value": 5.5, "code": "mmol/L"}}


@pytest.mark.parametrize(
    ("observation", "context"),
    [
        (_obs(9.0, ranges=[_HIGH_RANGE]), {}),
        (_obs(4.0, ranges=[_HIGH_RANGE]), {}),
        (_obs(250, unit="mg/dL", ranges=[_HIGH_RANGE]), {}),
        (_obs(4.0, ranges=[{"text": "3.5-5.0 mmol/L"}], interpretation="HH"), {}),
        ({"interpretation": [{"coding": [{"code": "N"}]}, {"text": "Low"}, {"text": "Critical"}]}, {}),
        ({"interpretation": {"coding": [{"display": "High."}]}}, {}),
        (
            _obs(13.0, unit="g/dL", ranges=[{"high": {"value": 12, "code": "g/dL"}, "appliesTo": [{"text": "Male"}]}]),
            {"sex": "male"},
        ),
        ({"resourceType": "Observation", "valueString": "<0.5 mg/L", "referenceRange": [{"text": "<1 mg/L"}]}, {}),
        ({"resourceType": "Observation", "valueString": "pending"}, {}),
    ],
)
def test_interpretation_code_is_the_flag_code(observation, context):
    """What the ingest stores (no words translated, the measure passed in) is the shown flag's code."""
    flag = fhir.interpretation_flag(observation, **context)
    measure = fhir.observation_measure(observation, unit_shown=False)
    expected = flag.code if flag is not None else ""
    assert fhir.interpretation_code(observation, **context) == expected
    assert fhir.interpretation_code(observation, measure=measure, **context) == expected


def test_measure_without_the_unit_shown():
    obs = _obs(7.5, unit="10*3/uL")
    shown, bare = fhir.observation_measure(obs), fhir.observation_measure(obs, unit_shown=False)
    assert shown is not None and bare is not None
    assert (bare.value, bare.comparator, bare.unit_key, bare.unit) == (shown.value, shown.comparator, "10*3/uL", "")
    assert shown.unit == fhir.TIMES + "10³/µL"


def test_numeric_value_string():
    obs = {"resourceType": "Observation", "valueString": "<0.5 mg/L", "referenceRange": [{"text": "<1 mg/L"}]}
    measure = fhir.observation_measure(obs)
    assert measure is not None
    assert (measure.value, measure.comparator, measure.unit) == (0.5, "<", "mg/L")
    assert _flag_code(obs) == "N" or fhir.interpretation_flag(obs) is None


def test_several_ranges_apply_to_and_age():
    ranges = [
        {
            "low": {"value": 13.5, "code": "g/dL"},
            "high": {"value": 17.5, "code": "g/dL"},
            "appliesTo": [{"text": "Male"}],
        },
        {
            "low": {"value": 12.0, "code": "g/dL"},
            "high": {"value": 15.5, "code": "g/dL"},
            "appliesTo": [{"text": "Female"}],
        },
    ]
    obs = _obs(13.0, unit="g/dL", ranges=ranges)
    assert fhir.interpretation_flag(obs) is None  # sex unknown: no guess
    assert _flag_code(obs, sex="male") == "L"
    assert _flag_code(obs, sex="female") == "N"
    aged = [
        {"high": {"value": 10, "code": "u"}, "age": {"low": {"value": 0}, "high": {"value": 17}}},
        {"high": {"value": 20, "code": "u"}, "age": {"low": {"value": 18}}},
    ]
    assert _flag_code(_obs(15, unit="u", ranges=aged), age_years=40) == "N"
    assert _flag_code(_obs(15, unit="u", ranges=aged), age_years=10) == "H"
    assert fhir.interpretation_flag(_obs(15, unit="u", ranges=aged)) is None
    critical_only = [{"high": {"value": 1, "code": "u"}, "type": {"coding": [{"code": "critical"}]}}]
    assert fhir.interpretation_flag(_obs(5, unit="u", ranges=critical_only)) is None


def test_blood_pressure_and_other_values():
    bp = {
        "resourceType": "Observation",
        "component": [
            {"code": {"coding": [{"system": L, "code": "8480-6"}]}, "valueQuantity": {"value": 120, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": L, "code": "8462-4"}]}, "valueQuantity": {"value": 80, "code": "mm[Hg]"}},
        ],
    }
    assert fhir.observation_value_text(bp) == "120/80 mmHg"
    assert fhir.value_text({"valueBoolean": False}) == "No"
    assert fhir.value_text({"valueCodeableConcept": {"text": "Positive"}}) == "Positive"
    assert fhir.value_text({"dataAbsentReason": {"text": "Not performed"}}) == "Not available (not performed)"


@pytest.mark.parametrize(
    ("resource", "words"),
    [
        ({"resourceType": "Condition", "clinicalStatus": {"coding": [{"code": "active"}]}}, "Active"),
        (
            {
                "resourceType": "Condition",
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "verificationStatus": {"coding": [{"code": "refuted"}]},
            },
            "Ruled out",
        ),
        (
            {
                "resourceType": "Condition",
                "clinicalStatus": {"coding": [{"code": "remission"}]},
                "verificationStatus": {"coding": [{"code": "provisional"}]},
            },
            "In remission (provisional)",
        ),
        ({"resourceType": "MedicationRequest", "status": "on-hold"}, "On hold"),
        ({"resourceType": "Observation", "status": "entered-in-error"}, "Entered in error"),
        ({"resourceType": "Procedure", "status": "not-done"}, "Not done"),
        ({"resourceType": "Encounter", "status": "finished"}, "Finished"),
        ({"resourceType": "Observation", "status": "weird-new-code"}, "Weird new code"),
        ({"resourceType": "Observation", "status": 5}, ""),
    ],
)
def test_status_words(resource, words):
    assert fhir.status_words(resource) == words


def test_provenance_order_and_no_invented_author():
    org = {"resourceType": "Organization", "id": "o", "name": "Riverside"}
    enc = {"resourceType": "Encounter", "id": "e", "serviceProvider": {"reference": "Organization/o"}}
    lookup: dict[str, dict] = {"Organization/o": org, "Encounter/e": enc}
    resource = {
        "resourceType": "Condition",
        "asserter": {"display": "Dr. Who"},
        "encounter": {"reference": "Encounter/e"},
        "meta": {
            "source": "urn:ehr:1",
            "tag": [{"system": "https://homeport.example/fhir/CodeSystem/network-source", "code": "hie"}],
        },
    }
    provenance = {"agent": [{"who": {"display": "Lab system"}}]}
    sources = fhir.provenance_sources(resource, resolve=lookup.get, provenances=[provenance])
    assert [s.name for s in sources] == [
        "Dr. Who",
        "Riverside",
        "Lab system",
        "urn:ehr:1",
        "via health information exchange",
    ]
    assert fhir.provenance_sources({"resourceType": "Condition"}) == []
    assert fhir.organization_name(resource, resolve=lookup.get) == "Riverside"


def test_narrative_is_reduced_to_text():
    resource = {
        "text": {
            "div": "<div><p>Hello <b>there</b></p><script>alert(1)</script>"
            '<img src=x onerror="alert(2)"><style>p{}</style></div>'
        }
    }
    assert fhir.narrative_text(resource) == "Hello there"
    assert fhir.narrative_text({"text": {"div": 5}}) == ""


def test_category_of():
    assert (
        fhir.category_of({"resourceType": "Observation", "category": [{"coding": [{"code": "vital-signs"}]}]})
        == "vitals"
    )
    assert fhir.category_of({"resourceType": "Observation"}) == "labs"
    assert fhir.category_of({"resourceType": "Observation", "code": {"coding": [{"code": "8867-4"}]}}) == "vitals"
    assert fhir.category_of({"resourceType": "Basic"}) == "other"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
fhir_keys = st.sampled_from(
    [
        "resourceType",
        "code",
        "coding",
        "text",
        "display",
        "system",
        "valueQuantity",
        "value",
        "unit",
        "referenceRange",
        "low",
        "high",
        "interpretation",
        "effectiveDateTime",
        "onsetDateTime",
        "status",
        "clinicalStatus",
        "verificationStatus",
        "medicationReference",
        "reference",
        "contained",
        "component",
        "performer",
        "asserter",
        "encounter",
        "meta",
        "source",
        "valueString",
        "appliesTo",
        "age",
        "type",
    ]
)
fhir_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "Observation",
            "Condition",
            "MedicationRequest",
            "2020",
            "2020-01-01",
            "H",
            "<5",
            "3.5-5.0",
            "#m",
            fhir.LOINC,
            "mmol/L",
            "active",
        ]
    ),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(fhir_keys, children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, fhir_like))
def test_no_helper_raises_on_arbitrary_json(value):
    fhir.concept_name(value)
    fhir.concept_code(value)
    fhir.clinical_date(value)
    fhir.format_quantity(value)
    fhir.reference_ranges(value)
    fhir.interpretation_flag(value, sex="female", age_years=40)
    fhir.interpretation_code(value, sex="female", age_years=40)
    fhir.observation_value_text(value)
    fhir.status_words(value)
    fhir.medication_name(value, resolve=lambda ref: value if isinstance(value, dict) else None)
    fhir.provenance_sources(value, resolve=lambda ref: None, provenances=[value] if isinstance(value, dict) else [])
    fhir.organization_name(value)
    fhir.narrative_text(value)
    fhir.category_of(value)
    fhir.describe(value)
    if isinstance(value, dict):
        fhir.describe({**value, "resourceType": "Observation"})
