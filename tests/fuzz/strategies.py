"""Arbitrary JSON, and JSON shaped a little like FHIR so the fuzzer reaches deeper branches."""

from hypothesis import strategies as st

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
)

json_values = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)

FHIR_KEYS = [
    "resourceType",
    "id",
    "code",
    "coding",
    "system",
    "display",
    "text",
    "value",
    "valueQuantity",
    "valueString",
    "valueCodeableConcept",
    "valueRange",
    "valueRatio",
    "unit",
    "low",
    "high",
    "referenceRange",
    "interpretation",
    "effectiveDateTime",
    "effectivePeriod",
    "start",
    "end",
    "issued",
    "status",
    "category",
    "medicationCodeableConcept",
    "medicationReference",
    "reference",
    "dosage",
    "reaction",
    "manifestation",
    "criticality",
    "clinicalStatus",
    "verificationStatus",
    "name",
    "given",
    "family",
    "contained",
    "meta",
    "source",
    "div",
    "performer",
    "author",
    "recorder",
    "encounter",
    "subject",
    "period",
    "onsetDateTime",
    "recordedDate",
    "type",
    "class",
    "content",
    "attachment",
    "title",
    "age",
    "appliesTo",
    "vaccineCode",
]
RESOURCE_TYPES = [
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "AllergyIntolerance",
    "Encounter",
    "DocumentReference",
    "Immunization",
    "Procedure",
    "DiagnosticReport",
    "Organization",
    "Patient",
    "Practitioner",
    "Provenance",
    "Location",
    "Nonsense",
]

fhir_like = st.recursive(
    SCALARS
    | st.sampled_from(
        [
            "http://loinc.org",
            "http://unitsofmeasure.org",
            "2024-02-30",
            "2024",
            "2024-03-01T10:00:00+14:00",
            "<script>alert(1)</script>",
            "H",
            "LL",
            "mg/dL",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(FHIR_KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)

resources = st.builds(
    lambda kind, body: {**body, "resourceType": kind} if isinstance(body, dict) else body,
    st.sampled_from(RESOURCE_TYPES),
    fhir_like,
)

anything = json_values | fhir_like | resources
