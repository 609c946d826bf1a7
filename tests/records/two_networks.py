"""One person's record as two networks deliver it: Metriport's and Particle's consolidated bundles.

Both are shaped like converted C-CDA (instants in UTC or with offsets, UCUM in `unit` and `code`,
converter extensions, an allergy named only in its reaction, Provenance agents). They clash on ids
(each network numbers its own resources: both have Organization/org-1, Encounter/enc-1,
Observation/obs-1, DiagnosticReport/dr-1 and Provenance/prov-1, each meaning something else) and
they overlap on clinical items (the same HbA1c result, diabetes, penicillin allergy and flu shot,
under other ids and written a little differently).
"""

from __future__ import annotations

import tempfile

import orjson

from tests.records.converter_shapes import (
    bundle,
    data_source_extension,
    doc_id_extension,
    observation,
    organization,
)

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
CVX = "http://hl7.org/fhir/sid/cvx"
RIVERSIDE = "Riverside Community Hospital"
NORTHSTAR = "Northstar Labs"


def ingest_from(user, data: dict, *, network: str, request_id: str = "req-1", retire: bool = True):
    """Ingest a bundle as `network` delivered it, through the service the journey calls."""
    from records.services import snapshot_ingest_file

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(orjson.dumps(data))
        handle.flush()
        return snapshot_ingest_file(
            user_id=user.pk,
            path=handle.name,
            network_source="consolidated",
            request_id=request_id,
            retire=retire,
            network=network,
        )


def _ref(reference: str) -> dict:
    return {"reference": reference}


def _encounter(rid: str, *, org: str, start: str, text: str) -> dict:
    return {
        "resourceType": "Encounter",
        "id": rid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"text": text}],
        "subject": _ref("Patient/p"),
        "period": {"start": start},
        "serviceProvider": _ref(f"Organization/{org}"),
    }


def _condition(rid: str, *, onset: str, asserter: str, status: str = "active") -> dict:
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {"coding": [{"code": status}]},
        "code": {"coding": [{"system": ICD10, "code": "E11.9"}]},  # converter: code only, no display
        "onsetDateTime": onset,
        "asserter": _ref(f"Organization/{asserter}"),
        "extension": [doc_id_extension()],
    }


def _allergy(rid: str, *, recorded: str) -> dict:
    """The converter leaves `code` empty and names the allergen in the reaction."""
    return {
        "resourceType": "AllergyIntolerance",
        "id": rid,
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "reaction": [
            {
                "substance": {"coding": [{"system": SNOMED, "code": "764146007", "display": "Penicillin"}]},
                "manifestation": [{"text": "Hives"}],
            }
        ],
        "recordedDate": recorded,
    }


def _flu_shot(rid: str, *, when: str) -> dict:
    return {
        "resourceType": "Immunization",
        "id": rid,
        "status": "completed",
        "vaccineCode": {"coding": [{"system": CVX, "code": "140", "display": "Influenza, seasonal, injectable"}]},
        "occurrenceDateTime": when,
    }


def _panel(rid: str, *, results: list[str], when: str, org: str) -> dict:
    return {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "24323-8", "display": "Comprehensive metabolic panel"}]
        },
        "effectiveDateTime": when,
        "performer": [_ref(f"Organization/{org}")],
        "result": [_ref(f"Observation/{r}") for r in results],
    }


def _provenance(rid: str, *, target: str, org: str) -> dict:
    return {
        "resourceType": "Provenance",
        "id": rid,
        "target": [_ref(target)],
        "recorded": "2024-06-01T00:00:00Z",
        "agent": [{"who": _ref(f"Organization/{org}")}],
    }


def _with(resource: dict, **fields) -> dict:
    return {**resource, **fields}


def metriport_bundle() -> dict:
    """Riverside's record through Metriport: an HbA1c and a potassium in a panel at one visit."""
    a1c = observation(
        "obs-1", loinc="4548-4", display="Hemoglobin A1c", value=7.2, unit="%", when="2024-02-03T09:45:00-05:00"
    )
    a1c = _with(a1c, encounter=_ref("Encounter/enc-1"), performer=[_ref("Organization/org-1")])
    potassium = observation(
        "obs-k", loinc="2823-3", display="Potassium", value=4.1, unit="mmol/L", when="2024-02-03T09:45:00-05:00"
    )
    potassium = _with(potassium, encounter=_ref("Encounter/enc-1"), extension=[data_source_extension("CAREQUALITY")])
    return bundle(
        organization("org-1", RIVERSIDE),
        _encounter("enc-1", org="org-1", start="2024-02-03T09:00:00-05:00", text="Office visit"),
        a1c,
        potassium,
        _panel("dr-1", results=["obs-k"], when="2024-02-03T09:45:00-05:00", org="org-1"),
        _condition("cond-1", onset="2019-03", asserter="org-1"),
        _allergy("alg-1", recorded="2015-06-01"),
        _flu_shot("imm-1", when="2023-10-01"),
        _provenance("prov-1", target="Condition/cond-1", org="org-1"),
    )


def particle_bundle() -> dict:
    """The same person through Particle: Northstar's own results under ids Metriport also uses, and
    Riverside's HbA1c, diabetes, allergy and flu shot again, under Particle's ids."""
    glucose = observation(
        "obs-1", loinc="2345-7", display="Glucose", value=5.4, unit="mmol/L", when="2024-05-10T13:20:00.000Z"
    )
    glucose = _with(glucose, encounter=_ref("Encounter/enc-1"))
    a1c_again = observation(
        "3c1e9d7a-0f4b-4e55-9a55-2f0c1b7e8d21",
        loinc="4548-4",
        display="HbA1c",
        value=7.20,
        unit="%",
        when="2024-02-03T14:45:00.000Z",
    )
    a1c_again = _with(a1c_again, performer=[_ref("Organization/org-2")])
    return bundle(
        organization("org-1", NORTHSTAR),
        organization("org-2", RIVERSIDE),
        _encounter("enc-1", org="org-1", start="2024-05-10T13:00:00.000Z", text="Lab visit"),
        glucose,
        a1c_again,
        _panel("dr-1", results=["obs-1"], when="2024-05-10T13:20:00.000Z", org="org-1"),
        _condition("5e0b6c2d-3f3e-4d0a-8f57-6a1f0e2b9c44", onset="2019-03-01", asserter="org-2"),
        _allergy("a7d4e2f1-9b3c-4c1e-8d2a-1f6e5c4b3a29", recorded="2016-01-12"),
        _flu_shot("b2c9e1d3-7a4f-4b8e-9c6d-3e2f1a0b9c87", when="2023-10-01T15:30:00.000Z"),
        _provenance("prov-1", target="Observation/obs-1", org="org-1"),
    )
