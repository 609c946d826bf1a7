"""The generator's record shapes: every resource type and every converter shape it promises is there.

A "converted" or "mixed" record must hold what Metriport's C-CDA->FHIR converter really sends
(tests/records runs on it); if a later change stops emitting one of them, this fails by name.
"""

import base64
import json
import re
import xml.etree.ElementTree as ET

import pytest

from sandbox.generator import CONVERTER_SHAPES, DOC_ID_EXTENSION, SHAPES, document_body, generate_bundle

CLEAN_TYPES = {
    "AllergyIntolerance",
    "Condition",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Immunization",
    "MedicationRequest",
    "MedicationStatement",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "Procedure",
    "Provenance",
}
CONVERTED_TYPES = CLEAN_TYPES | {
    "CarePlan",
    "Composition",
    "Coverage",
    "Device",
    "FamilyMemberHistory",
    "Goal",
    "RelatedPerson",
}
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
UTC_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT(\d\d):\d\d:\d\d(\.\d+)?Z$")


def resources(bundle, rtype=None):
    return [e["resource"] for e in bundle["entry"] if rtype is None or e["resource"]["resourceType"] == rtype]


def references(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def code_only(concept, system):
    codings = concept.get("coding") or []
    return "text" not in concept and codings and all(c.get("system") == system and "display" not in c for c in codings)


def has_inline_person(res):
    holders = [*res.get("performer", ()), *res.get("participant", ())]
    people = [h.get("actor") or h.get("individual") or h for h in holders if isinstance(h, dict)]
    people += [res.get("asserter"), res.get("requester"), *res.get("author", ())]
    return any(isinstance(p, dict) and p.get("display") and "reference" not in p for p in people)


def detect(bundle) -> set[str]:
    """The converter shapes present in a bundle, each found by looking at the data itself."""
    found = set()
    referenced = set(references(bundle["entry"]))
    for res in resources(bundle):
        rtype = res["resourceType"]
        if DOC_ID_EXTENSION in [x.get("url") for x in res.get("meta", {}).get("extension", ())]:
            found.add("doc-id-extension")
        if has_inline_person(res):
            found.add("practitioner-inline")
        if any(c.get("resourceType") == "Practitioner" and "id" not in c for c in res.get("contained", ())):
            found.add("practitioner-contained-no-id")
        for value in strings(res):
            match = UTC_INSTANT.match(value)
            if match:
                found.add("instant-utc")
                if int(match.group(1)) < 5:
                    found.add("instant-near-midnight-utc")
        if rtype == "AllergyIntolerance" and "code" not in res:
            if any(r.get("substance") for r in res.get("reaction", ())):
                found.add("allergy-substance-only")
        elif rtype == "Condition":
            if "clinicalStatus" not in res and "verificationStatus" not in res:
                found.add("condition-no-clinical-status")
            if code_only(res["code"], ICD10):
                found.add("condition-icd10-only")
            if code_only(res["code"], SNOMED):
                found.add("condition-snomed-only")
            if UTC_INSTANT.match(res.get("onsetPeriod", {}).get("start", "")):
                found.add("condition-onset-period")
        elif rtype == "Procedure":
            if "code" in res and set(res["code"]) == {"text"}:
                found.add("procedure-text-only")
            if "code" not in res and res.get("note"):
                found.add("procedure-note-only")
        elif rtype == "Encounter" and f"Encounter/{res['id']}" not in referenced:
            found.add("encounter-unlinked")
        elif rtype == "Observation":
            category = res["category"][0]["coding"][0]["code"]
            quantity = res.get("valueQuantity") or {}
            if category == "social-history":
                found.add("social-history")
            if quantity.get("unit") in ("mL/min/{1.73_m2}", "10*9/L", "10*3/uL"):
                found.add("ucum-annotation")
            if quantity and "code" not in quantity and quantity.get("system"):
                found.add("quantity-without-code")
        elif rtype == "FamilyMemberHistory" and res.get("relationship") and res.get("condition"):
            found.add("family-history")
        elif rtype == "Coverage" and all("reference" not in p for p in res["payor"]):
            found.add("coverage")
        elif rtype == "CarePlan" and res.get("text", {}).get("div") and "title" not in res:
            found.add("care-plan-narrative")
        elif rtype == "Goal" and res.get("description"):
            found.add("goal")
        elif rtype == "Device" and not res["type"]["coding"][0].get("code"):
            found.add("device")
        elif rtype == "RelatedPerson" and res["relationship"][0].get("text"):
            found.add("related-person")
        elif rtype == "Composition" and res.get("section"):
            found.add("composition")
        elif rtype == "DocumentReference":
            attachment = res["content"][0]["attachment"]
            if "data" not in attachment and attachment.get("url"):
                kind = "pdf" if attachment["contentType"] == "application/pdf" else "ccda"
                found.add(f"document-{kind}-link")
    return found


@pytest.fixture(scope="module", params=["converted", "mixed"])
def shaped(request):
    return generate_bundle(seed="shapes", size=600, shape=request.param)


def test_the_shapes_are_named():
    assert SHAPES == ("clean", "converted", "mixed")
    with pytest.raises(ValueError):
        generate_bundle(seed="x", shape="tidy")


def test_every_resource_type_is_emitted(shaped):
    assert {r["resourceType"] for r in resources(shaped)} == CONVERTED_TYPES


def test_every_converter_shape_is_emitted(shaped):
    missing = set(CONVERTER_SHAPES) - detect(shaped)
    assert missing == set()


def test_clean_records_hold_none_of_the_converter_shapes():
    clean = generate_bundle(seed="shapes", size=600)
    assert {r["resourceType"] for r in resources(clean)} == CLEAN_TYPES
    found = detect(clean)
    assert found & {"allergy-substance-only", "condition-no-clinical-status", "doc-id-extension"} == set()
    assert "instant-utc" not in found


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", [10, 16, 60, 200, 1000])
def test_every_shape_keeps_the_size_and_is_deterministic(shape, size):
    bundle = generate_bundle(seed="shapes", size=size, shape=shape)
    assert len(bundle["entry"]) == size == bundle["total"]
    assert json.dumps(bundle, sort_keys=True) == json.dumps(
        generate_bundle(seed="shapes", size=size, shape=shape), sort_keys=True
    )


def test_small_shaped_records_still_have_every_converter_shape():
    assert set(CONVERTER_SHAPES) - detect(generate_bundle(seed="small", size=200, shape="mixed")) == set()


def test_ids_are_unique_and_every_reference_resolves(shaped):
    ids = {f"{r['resourceType']}/{r['id']}" for r in resources(shaped)}
    assert len(ids) == len(shaped["entry"])
    assert {ref for ref in references(shaped["entry"]) if ref not in ids} == set()


def test_mixed_records_hold_clean_and_converted_resources_from_each_hospital_organization():
    bundle = generate_bundle(seed="shapes", size=1000, shape="mixed")
    by_org: dict[str, set[bool]] = {}
    for res in resources(bundle, "Condition"):
        converted = "clinicalStatus" not in res
        by_org.setdefault(res["meta"]["source"], set()).add(converted)
    assert len(by_org) == 3
    assert all(kinds == {True, False} for kinds in by_org.values())


def test_linked_documents_are_served_from_the_generator(shaped):
    linked = [r for r in resources(shaped, "DocumentReference") if "data" not in r["content"][0]["attachment"]]
    assert linked
    for doc in linked:
        attachment = doc["content"][0]["attachment"]
        body = document_body(doc)
        assert attachment["size"] == len(body)
        assert attachment["url"].endswith(attachment["title"])
        if attachment["contentType"] == "application/pdf":
            assert body.startswith(b"%PDF-")
        else:
            root = ET.fromstring(body)  # noqa: S314 - our own generated XML
            assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"


def test_a_ccda_carries_sections_with_rich_narrative(shaped):
    doc = next(
        r
        for r in resources(shaped, "DocumentReference")
        if r["content"][0]["attachment"]["contentType"] != "application/pdf"
    )
    attachment = doc["content"][0]["attachment"]
    body = base64.b64decode(attachment["data"]) if "data" in attachment else document_body(doc)
    ns = {"h": "urn:hl7-org:v3"}
    root = ET.fromstring(body)  # noqa: S314 - our own generated XML
    sections = root.findall(".//h:section", ns)
    assert len(sections) >= 5
    tags: set[str] = set()
    for section in sections:
        assert section.findtext("h:title", namespaces=ns)
        text = section.find("h:text", ns)
        assert text is not None
        tags |= {el.tag.split("}")[1] for el in text.iter()}
    assert {"paragraph", "table", "thead", "tbody", "tr", "th", "td", "list", "item", "content", "br"} <= tags
    assert any(el.get("styleCode") for el in root.iter("{urn:hl7-org:v3}content"))
