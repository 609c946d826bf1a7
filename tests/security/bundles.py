"""FHIR bundles for tests of the rights pages and the attack suite: ordinary and hostile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


def _coded(text: str, code: str = "12345", system: str = "http://snomed.info/sct") -> dict:
    return {"coding": [{"system": system, "code": code, "display": text}], "text": text}


def person_bundle(*, label: str = "Asthma", hostile: bool = False, patient_id: str = "pat-1") -> dict:
    """A small record: patient, organization, condition, lab observation, allergy, medication, visit,
    procedure, immunization and a document. `hostile` puts script and HTML in every text a page may show."""
    text = f"{SCRIPT}{IMG}{label}" if hostile else label
    org = {"resourceType": "Organization", "id": "org-1", "name": f"{text} Clinic" if hostile else "Good Clinic"}
    patient = {
        "resourceType": "Patient",
        "id": patient_id,
        "name": [{"given": [text if hostile else "Pat"], "family": "Person"}],
        "gender": "female",
        "birthDate": "1980-04-02",
    }
    narrative = {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'}
    subject = {"reference": f"Patient/{patient_id}"}
    resources: list[dict[str, Any]] = [
        patient,
        org,
        {
            "resourceType": "Condition",
            "id": "cond-1",
            "subject": subject,
            "text": narrative,
            "code": _coded(text),
            "clinicalStatus": _coded("active", "active", "http://terminology.hl7.org/CodeSystem/condition-clinical"),
            "recordedDate": "2024-03-01",
            "recorder": {"reference": "Organization/org-1", "display": text},
        },
        {
            "resourceType": "Observation",
            "id": "obs-1",
            "status": "final",
            "subject": subject,
            "text": narrative,
            "category": [
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}
                    ]
                }
            ],
            "code": _coded(text, "2345-7", "http://loinc.org"),
            "effectiveDateTime": "2024-03-02T10:00:00Z",
            "valueQuantity": {"value": 99, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
            "referenceRange": [{"text": text}],
            "note": [{"text": text}],
            "performer": [{"reference": "Organization/org-1"}],
        },
        {
            "resourceType": "Observation",
            "id": "obs-2",
            "status": "final",
            "subject": subject,
            "category": [
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                    ]
                }
            ],
            "code": _coded(text, "8867-4", "http://loinc.org"),
            "effectiveDateTime": "2024-03-02T10:00:00Z",
            "valueString": text,
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": "alg-1",
            "patient": subject,
            "code": _coded(text),
            "reaction": [{"manifestation": [_coded(text)], "description": text}],
            "recordedDate": "2023-01-01",
        },
        {
            "resourceType": "MedicationStatement",
            "id": "med-1",
            "subject": subject,
            "status": "active",
            "medicationCodeableConcept": _coded(text, "1191", "http://www.nlm.nih.gov/research/umls/rxnorm"),
            "dosage": [{"text": text}],
            "effectiveDateTime": "2024-01-01",
        },
        {
            "resourceType": "Encounter",
            "id": "enc-1",
            "status": "finished",
            "subject": subject,
            "class": {"code": "AMB", "display": text},
            "type": [_coded(text)],
            "period": {"start": "2024-03-01T09:00:00Z", "end": "2024-03-01T10:00:00Z"},
            "serviceProvider": {"reference": "Organization/org-1"},
            "reasonCode": [_coded(text)],
        },
        {
            "resourceType": "Procedure",
            "id": "proc-1",
            "status": "completed",
            "subject": subject,
            "code": _coded(text),
            "performedDateTime": "2022-05-05",
        },
        {
            "resourceType": "Immunization",
            "id": "imm-1",
            "status": "completed",
            "patient": subject,
            "vaccineCode": _coded(text, "208", "http://hl7.org/fhir/sid/cvx"),
            "occurrenceDateTime": "2021-04-04",
        },
        {
            "resourceType": "DocumentReference",
            "id": "doc-1",
            "status": "current",
            "subject": subject,
            "type": _coded(text, "34133-9", "http://loinc.org"),
            "description": text,
            "date": "2024-03-01T00:00:00Z",
            "author": [{"reference": "Organization/org-1"}],
            "content": [
                {
                    "attachment": {
                        "contentType": "text/html",
                        "title": text,
                        "data": "PHNjcmlwdD5hbGVydCgzKTwvc2NyaXB0Pg==",
                    }
                }
            ],
        },
        {
            "resourceType": "DiagnosticReport",
            "id": "rep-1",
            "status": "final",
            "subject": subject,
            "code": _coded(text, "58410-2", "http://loinc.org"),
            "conclusion": text,
            "effectiveDateTime": "2024-03-02T10:00:00Z",
            "result": [{"reference": "Observation/obs-1"}],
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        },
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['resourceType']}-{r['id']}", "resource": r} for r in resources],
    }


def ingest_for(*, user_id: int, bundle: dict, tmp_path: Path, name: str = "bundle.json"):
    """Store `bundle` as the person's record through the records app's own ingest path."""
    from records.services import snapshot_ingest_file

    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return snapshot_ingest_file(user_id=user_id, path=str(path), network_source="test", retire=True, keep_bundle=True)
