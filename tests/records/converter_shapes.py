"""Small hand-made resources shaped like Metriport's C-CDA -> FHIR converter output.

Modelled on the converter's templates: instants in UTC with `Z`, UCUM codes with annotations in
both `unit` and `code`, resources tagged with the data-source and doc-id extensions rather than
US Core's tidy fields.
"""

from __future__ import annotations

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
NETWORK_SOURCE_SYSTEM = "https://homeport.example/fhir/CodeSystem/network-source"
DATA_SOURCE_URL = "https://public.metriport.com/fhir/StructureDefinition/data-source.json"
DOC_ID_URL = "https://public.metriport.com/fhir/StructureDefinition/doc-id-extension.json"


def network_tag(source: str) -> dict:
    return {"tag": [{"system": NETWORK_SOURCE_SYSTEM, "code": source}]}


def data_source_extension(code: str) -> dict:
    return {"url": DATA_SOURCE_URL, "valueCoding": {"system": "https://public.metriport.com", "code": code}}


def doc_id_extension(name: str = "3f2a-doc.xml") -> dict:
    return {"url": DOC_ID_URL, "valueString": name}


def organization(rid: str, name: str) -> dict:
    return {"resourceType": "Organization", "id": rid, "name": name}


def quantity(value: float, code: str) -> dict:
    """A converter-style valueQuantity: the UCUM code copied into `unit` as well."""
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def observation(
    rid: str,
    *,
    loinc: str,
    display: str,
    value: float | None = None,
    unit: str = "",
    when: str = "2012-08-15T09:00:00.000Z",
    category: str = "laboratory",
    components: list[dict] | None = None,
    meta: dict | None = None,
    extension: list[dict] | None = None,
) -> dict:
    resource: dict = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
        "effectiveDateTime": when,
    }
    if value is not None:
        resource["valueQuantity"] = quantity(value, unit)
    if components:
        resource["component"] = components
    if meta:
        resource["meta"] = meta
    if extension:
        resource["extension"] = extension
    return resource


def blood_pressure(rid: str, *, systolic: float, diastolic: float, when: str) -> dict:
    return observation(
        rid,
        loinc="85354-9",
        display="Blood pressure panel with all children optional",
        when=when,
        category="vital-signs",
        components=[
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
                "valueQuantity": quantity(systolic, "mm[Hg]"),
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
                "valueQuantity": quantity(diastolic, "mm[Hg]"),
            },
        ],
    )


def bundle(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{r['id']}", "resource": r}
            for r in ({"resourceType": "Patient", "id": "p"}, *resources)
        ],
    }
