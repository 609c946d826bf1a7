"""The synthetic record generator: deterministic, sized, US Core-shaped and realistically messy."""

import base64
import json
import statistics
import xml.etree.ElementTree as ET

import pytest

from sandbox.generator import (
    NETWORK_SOURCE_SYSTEM,
    bundle_for_sources,
    generate_bundle,
    persona_for,
    resource_source,
)

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


@pytest.fixture(scope="module")
def bundle():
    return generate_bundle(seed="patient-123", size=1500)


def resources(bundle, rtype=None):
    return [e["resource"] for e in bundle["entry"] if rtype is None or e["resource"]["resourceType"] == rtype]


def walk_references(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from walk_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_references(item)


def lab_series(bundle, loinc, unit=None):
    points = []
    for obs in resources(bundle, "Observation"):
        codes = [c.get("code") for c in obs["code"].get("coding", [])]
        q = obs.get("valueQuantity")
        if loinc in codes and q and (unit is None or q["code"] == unit) and obs.get("effectiveDateTime"):
            points.append((obs["effectiveDateTime"], q["value"]))
    return [v for _, v in sorted(points)]


def test_same_arguments_give_the_same_bundle():
    a = generate_bundle(seed="s1", size=800)
    b = generate_bundle(seed="s1", size=800)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_another_seed_gives_another_bundle():
    a = generate_bundle(seed="s1", size=800)
    b = generate_bundle(seed="s2", size=800)
    assert json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("size", [10, 16, 40, 100, 400, 1000, 5000])
def test_size_is_what_was_asked(size):
    bundle = generate_bundle(seed="sizes", size=size)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert len(bundle["entry"]) == size == bundle["total"]


def test_a_very_large_record_is_generated():
    bundle = generate_bundle(seed="large", size=50_000, persona="large")
    assert len(bundle["entry"]) == 50_000
    ids = {(r["resourceType"], r["id"]) for r in resources(bundle)}
    assert len(ids) == 50_000


def test_ids_are_unique_and_every_reference_resolves(bundle):
    ids = {f"{r['resourceType']}/{r['id']}" for r in resources(bundle)}
    assert len(ids) == len(bundle["entry"])
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    dangling = {ref for ref in walk_references(bundle["entry"]) if ref not in ids}
    assert dangling == set()


def test_every_clinical_resource_names_its_organization_and_network_source(bundle):
    orgs = {f"Organization/{r['id']}": r for r in resources(bundle, "Organization")}
    assert len(orgs) >= 3
    for res in resources(bundle):
        if res["resourceType"] in ("Patient", "Organization", "Practitioner"):
            continue
        meta = res["meta"]
        assert meta["source"] in orgs, res["resourceType"]
        source = resource_source(res)
        assert source in ("hie", "pharmacy", "lab")
        org_tags = [t for t in meta["tag"] if t["system"] != NETWORK_SOURCE_SYSTEM]
        assert org_tags[0]["display"] == orgs[meta["source"]]["name"]


def test_pharmacy_gives_medications_and_lab_gives_lab_results(bundle):
    by_source: dict[str | None, set[str]] = {}
    for res in resources(bundle):
        by_source.setdefault(resource_source(res), set()).add(res["resourceType"])
    assert "MedicationStatement" in by_source["pharmacy"]
    assert by_source["pharmacy"] <= {"MedicationStatement", "Immunization"}
    assert by_source["lab"] <= {"Observation", "DiagnosticReport"}
    for res in resources(bundle, "Observation"):
        if resource_source(res) == "lab":
            assert res["category"][0]["coding"][0]["code"] == "laboratory"


def test_terminologies_are_the_us_core_ones(bundle):
    conds = resources(bundle, "Condition")
    both = [
        c
        for c in conds
        if {x["system"] for x in c["code"].get("coding", [])}
        >= {"http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"}
    ]
    assert len(both) >= 5
    for med in resources(bundle, "MedicationRequest"):
        assert med["medicationCodeableConcept"]["coding"][0]["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
    for imm in resources(bundle, "Immunization"):
        assert imm["vaccineCode"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/cvx"
    assert resources(bundle, "AllergyIntolerance") and resources(bundle, "Procedure")
    assert resources(bundle, "Encounter") and resources(bundle, "Provenance") and resources(bundle, "Practitioner")


def test_lab_results_carry_loinc_ucum_ranges_and_flags(bundle):
    labs = [
        o
        for o in resources(bundle, "Observation")
        if o["category"][0]["coding"][0]["code"] == "laboratory" and "valueQuantity" in o
    ]
    assert len(labs) > 200
    flags = set()
    for obs in labs:
        assert obs["code"]["coding"][0]["system"] == LOINC
        assert obs["valueQuantity"]["system"] == UCUM and obs["valueQuantity"]["code"]
        assert obs["referenceRange"]
        flags.add(obs["interpretation"][0]["coding"][0]["code"])
    assert {"H", "N"} <= flags


def test_labs_trend_over_the_years(bundle):
    hba1c = lab_series(bundle, "4548-4")
    ldl = lab_series(bundle, "13457-7")
    egfr = lab_series(bundle, "98979-8")
    assert len(hba1c) >= 6 and len(ldl) >= 4 and len(egfr) >= 6
    third = len(hba1c) // 3
    assert statistics.mean(hba1c[third : 2 * third]) > statistics.mean(hba1c[:third]) + 0.5
    assert statistics.mean(ldl[-len(ldl) // 3 :]) < statistics.mean(ldl[: len(ldl) // 3]) - 30
    assert statistics.mean(egfr[-len(egfr) // 3 :]) < statistics.mean(egfr[: len(egfr) // 3])


def test_panels_reference_their_results(bundle):
    reports = resources(bundle, "DiagnosticReport")
    panel_codes = {r["code"]["coding"][0]["code"] for r in reports}
    assert {"24323-8", "57698-3", "58410-2"} <= panel_codes
    observations = {o["id"]: o for o in resources(bundle, "Observation")}
    for report in reports:
        assert report["result"]
        for ref in report["result"]:
            obs = observations[ref["reference"].split("/")[1]]
            assert obs["effectiveDateTime"] == report["effectiveDateTime"]


def test_vital_signs_include_a_blood_pressure_panel_weight_bmi_and_heart_rate(bundle):
    vitals = [o for o in resources(bundle, "Observation") if o["category"][0]["coding"][0]["code"] == "vital-signs"]
    codes = {o["code"]["coding"][0]["code"] for o in vitals}
    assert {"85354-9", "29463-7", "39156-5", "8867-4"} <= codes
    bp = next(o for o in vitals if o["code"]["coding"][0]["code"] == "85354-9")
    assert {c["code"]["coding"][0]["code"] for c in bp["component"]} == {"8480-6", "8462-4"}
    assert bp["component"][0]["valueQuantity"]["code"] == "mm[Hg]"


def test_documents_hold_real_ccda_and_pdf_attachments(bundle):
    kinds = set()
    for doc in resources(bundle, "DocumentReference"):
        att = doc["content"][0]["attachment"]
        data = base64.b64decode(att["data"])
        assert len(data) == att["size"]
        if att["contentType"] == "application/xml":
            root = ET.fromstring(data)  # noqa: S314 - our own generated XML
            assert root.tag == "{urn:hl7-org:v3}ClinicalDocument"
        else:
            assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        kinds.add(att["contentType"])
    assert kinds == {"application/xml", "application/pdf"}


def test_the_mess_of_real_data_is_there(bundle):
    conds = resources(bundle, "Condition")
    htn_sources = {
        c["meta"]["source"] for c in conds if any(x.get("code") == "I10" for x in c["code"].get("coding", []))
    }
    assert len(htn_sources) >= 2, "the same condition from two organizations"
    assert any(c["code"].get("coding") and "display" not in c["code"]["coding"][0] for c in conds)
    assert any("coding" not in c["code"] and c["code"].get("text") for c in conds), "text-only concept"
    dates = [c.get("onsetDateTime", "") for c in conds] + [
        i["occurrenceDateTime"] for i in resources(bundle, "Immunization")
    ]
    assert any(len(d) == 4 for d in dates) and any(len(d) == 7 for d in dates), "partial dates"
    statements = resources(bundle, "MedicationStatement")
    requests = resources(bundle, "MedicationRequest")
    stmt_codes = {m["medicationCodeableConcept"]["coding"][0]["code"] for m in statements}
    req_codes = {m["medicationCodeableConcept"]["coding"][0]["code"] for m in requests}
    assert stmt_codes & req_codes, "the same medication from clinic and pharmacy"
    glucose_units = {
        o["valueQuantity"]["code"]
        for o in resources(bundle, "Observation")
        if o["code"]["coding"][0]["code"] == "2345-7"
    }
    assert glucose_units == {"mg/dL", "mmol/L"}
    obs = resources(bundle, "Observation")
    assert any(o.get("valueString") == "<5" for o in obs)
    assert any("issued" in o and "effectiveDateTime" not in o and "effectivePeriod" not in o for o in obs)


def test_demographics_shape_the_patient():
    demo = {
        "id": "p-1",
        "firstName": "Ann",
        "lastName": "Lee",
        "dob": "1971-02-03",
        "genderAtBirth": "F",
        "address": [{"addressLine1": "1 A St", "city": "Austin", "state": "TX", "zip": "73301"}],
    }
    bundle = generate_bundle(seed="p-1", size=50, demographics=demo)
    patient = resources(bundle, "Patient")[0]
    assert patient["id"] == "p-1"
    assert patient["name"][0] == {"use": "official", "family": "Lee", "given": ["Ann"]}
    assert patient["birthDate"] == "1971-02-03" and patient["gender"] == "female"
    assert patient["address"][0]["city"] == "Austin"
    refs = {r for r in walk_references(bundle["entry"]) if r.startswith("Patient/")}
    assert refs == {"Patient/p-1"}


@pytest.mark.parametrize(
    ("first", "last", "persona"),
    [
        ("Pat", "Pharmacyfail", "pharmacyfail"),
        ("pat", "NORECORDS", "norecords"),
        ("Pat", "Idfail", "idfail"),
        ("Pat", "Large", "large"),
        ("Pat", "Smith", "ordinary"),
        ("Jane", "Large", "ordinary"),
    ],
)
def test_personas_are_chosen_by_name(first, last, persona):
    assert persona_for(first_name=first, last_name=last) == persona


def test_no_records_persona_has_only_the_patient():
    bundle = generate_bundle(seed="x", size=400, persona="norecords")
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient"]


def test_unknown_persona_is_refused():
    with pytest.raises(ValueError):
        generate_bundle(seed="x", persona="nobody")


def test_bundle_for_sources_keeps_only_what_those_sources_gave(bundle):
    cut = bundle_for_sources(bundle, ["hie", "lab"])
    assert cut["total"] == len(cut["entry"]) < len(bundle["entry"])
    sources = {resource_source(e["resource"]) for e in cut["entry"]}
    assert sources == {None, "hie", "lab"}
    kinds = {e["resource"]["resourceType"] for e in cut["entry"] if resource_source(e["resource"]) is None}
    assert kinds == {"Patient", "Organization", "Practitioner"}
    assert "pharmacy" not in {resource_source(e["resource"]) for e in cut["entry"]}
