"""Code-only concepts are named from the code tables and ICD-10-CM; lab tests get everyday names."""

import pytest

from records import fhir, terminology

SNOMED, LOINC, RXNORM, CVX, ICD = (
    terminology.SNOMED,
    terminology.LOINC,
    terminology.RXNORM,
    terminology.CVX,
    terminology.ICD10CM,
)


@pytest.mark.parametrize(
    ("system", "code", "name"),
    [
        (ICD, "I10", "Essential (primary) hypertension"),
        (ICD, "E119", "Type 2 diabetes mellitus without complications"),
        ("urn:oid:2.16.840.1.113883.6.90", "N18.31", "Chronic kidney disease, stage 3a"),
        (SNOMED, "40930008", "Underactive thyroid (hypothyroidism)"),
        ("urn:oid:2.16.840.1.113883.6.96", "59621000", "Essential hypertension"),
        (RXNORM, "861007", "metformin hydrochloride 500 MG Oral Tablet"),
        (CVX, "208", "COVID-19 vaccine (Pfizer-BioNTech)"),
        (LOINC, "98979-8", "Kidney function (eGFR)"),
        (LOINC, "72166-2", "Smoking status"),
        (terminology.ROLE_CODE, "FTH", "Father"),
    ],
)
def test_code_name(system, code, name):
    assert terminology.code_name(system, code) == name
    assert fhir.concept_name({"coding": [{"system": system, "code": code}]}) == name


def test_unknown_codes_have_no_name_and_fall_back_to_the_code():
    assert terminology.code_name(SNOMED, "1234509876") == ""
    assert terminology.code_name(ICD, "NOT A CODE") == ""
    assert fhir.concept_name({"coding": [{"system": SNOMED, "code": "1234509876"}]}) == "SNOMED CT 1234509876"


def test_a_display_in_the_data_wins_over_the_table():
    concept = {"coding": [{"system": SNOMED, "code": "40930008", "display": "Hypothyroidism"}]}
    assert fhir.concept_name(concept) == "Hypothyroidism"


def test_converter_placeholders_are_not_names():
    assert fhir.concept_name({"text": "n/a"}) == ""
    assert fhir.concept_name({"text": "n/a", "coding": [{"system": SNOMED, "code": "22298006"}]}) == (
        "Heart attack (myocardial infarction)"
    )


@pytest.mark.parametrize(
    ("words", "expected", "unexpected"),
    [
        ("sugar", {"2345-7", "4548-4"}, {"2160-0"}),
        ("kidney", {"98979-8", "2160-0", "3094-0"}, {"2823-3"}),
        ("cholesterol", {"2093-3", "13457-7", "2085-9"}, {"2345-7"}),
        ("potassium", {"2823-3"}, {"2951-2"}),
        ("eGFR", {"98979-8", "33914-3", "62238-1"}, {"2160-0"}),
        ("creatinine", {"2160-0"}, {"2823-3"}),
    ],
)
def test_lab_codes_matching(words, expected, unexpected):
    found = terminology.lab_codes_matching(words)
    assert expected <= found
    assert not unexpected & found


def test_lab_gets_an_everyday_name_and_keeps_the_official_one():
    observation = {
        "resourceType": "Observation",
        "code": {
            "coding": [{"system": LOINC, "code": "2345-7", "display": "Glucose [Mass/volume] in Serum or Plasma"}]
        },
    }
    display = fhir.describe(observation)
    assert display.name == "Blood sugar (glucose)"
    assert ("Official name", "Glucose [Mass/volume] in Serum or Plasma") in display.details


def test_allergen_only_in_reaction_substance_names_the_allergy():
    allergy = {
        "resourceType": "AllergyIntolerance",
        "reaction": [{"substance": {"coding": [{"system": SNOMED, "code": "111088007"}]}}],
    }
    assert fhir.describe(allergy).name == "Latex"
    assert fhir.describe(allergy).status == "Status not given"


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        ({"resourceType": "Procedure", "text": {"div": "<div>Removal of skin lesion</div>"}}, "Removal of skin lesion"),
        ({"resourceType": "Goal", "description": {"text": "n/a"}, "note": [{"text": "Walk daily"}]}, "Walk daily"),
        ({"resourceType": "Coverage", "payor": [{"display": "Acme Health Plan"}]}, "Acme Health Plan"),
        (
            {"resourceType": "FamilyMemberHistory", "relationship": {"coding": [{"code": "MTH"}]}, "condition": []},
            "Mother",
        ),
        (
            {
                "resourceType": "FamilyMemberHistory",
                "relationship": {"text": "n/a"},
                "condition": [{"code": {"text": "Gout"}}],
            },
            "Family member (relation not given): Gout",
        ),
        (
            {
                "resourceType": "ExplanationOfBenefit",
                "type": {"coding": [{"system": "urn:x:claim-type", "code": "oral"}]},
            },
            "Explanation of benefits: oral",
        ),
        ({"resourceType": "Device", "type": {"text": "Insulin pump"}}, "Insulin pump"),
        ({"resourceType": "CarePlan"}, "Care plan (no name given)"),
        ({"resourceType": "Coverage", "relationship": {"coding": [{"display": "Self"}]}}, "Insurance coverage: Self"),
    ],
)
def test_every_kind_of_resource_is_named_from_what_it_carries(resource, name):
    assert fhir.describe(resource).name == name
