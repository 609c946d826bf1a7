"""A share conforms to SMART Health Links and carries an IPS-shaped document, checked with jwcrypto
(a JOSE library independent of joserfc, which Homeport uses to encrypt)."""

import base64
import json
from datetime import timedelta

import pytest
from django.test import Client

from records.models import Share, ShareFile
from tests.records.conftest import ingest_bundle
from tests.records.sharing_helpers import b64url_decode, decode_shlink, decrypt, make_share, manifest_post
from tests.security.bundles import person_bundle

pytestmark = pytest.mark.django_db

IPS_SECTIONS = {
    "48765-2": "allergies",
    "11450-4": "problems",
    "10160-0": "medications",
    "11369-6": "immunizations",
    "30954-2": "results",
    "8716-3": "vital signs",
}


def _files(created) -> tuple[dict, list[tuple[dict, dict]]]:
    payload = decode_shlink(created.shlink)
    manifest = manifest_post(Client(), payload, recipient="Conformance test").json()
    files = []
    for entry in manifest["files"]:
        header, plaintext = decrypt(entry["embedded"], payload["key"])
        files.append((header, json.loads(plaintext)))
    return payload, files


def _references(value, found: list[str]) -> None:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            found.append(value["reference"])
        for child in value.values():
            _references(child, found)
    elif isinstance(value, list):
        for child in value:
            _references(child, found)


@pytest.fixture
def generated_owner(record_owner):
    return record_owner


def test_payload_follows_the_specification(mfa_user, private_storage_dir, settings):
    settings.PORTAL_BASE_URL = "https://homeport.example"
    created = make_share(mfa_user, label="x" * 80, passcode="tulip-42", lifetime=timedelta(hours=1))
    payload = decode_shlink(created.shlink)
    assert set(payload) == {"url", "key", "exp", "flag", "label", "v"}
    assert payload["url"].startswith("https://homeport.example/share/m/")
    assert len(payload["url"]) <= 128
    assert len(payload["url"].rsplit("/", 1)[1]) >= 43  # at least 256 bits of entropy
    assert len(payload["key"]) == 43 and len(b64url_decode(payload["key"])) == 32
    assert payload["exp"] == int(Share.objects.get(pk=created.share.pk).expires_at.timestamp())
    assert payload["flag"] == "P"  # one hour is not long-term use
    assert len(payload["label"]) == 80
    assert payload["v"] == 1
    assert created.viewer_url == f"https://homeport.example/share/view#{created.shlink}"
    # minified JSON, base64url without padding
    encoded = created.shlink[len("shlink:/") :]
    assert "=" not in encoded and " " not in b64url_decode(encoded).decode()


@pytest.mark.parametrize(
    ("lifetime", "passcode", "flag"),
    [
        (timedelta(hours=1), "", None),
        (timedelta(days=1), "", None),
        (timedelta(days=7), "", "L"),
        (timedelta(days=90), "abcd", "LP"),
    ],
)
def test_flags(mfa_user, lifetime, passcode, flag):
    payload = decode_shlink(make_share(mfa_user, lifetime=lifetime, passcode=passcode).shlink)
    assert payload.get("flag") == flag


@pytest.mark.parametrize("lifetime", [timedelta(minutes=59), timedelta(days=90, seconds=1)])
def test_lifetime_outside_one_hour_to_90_days_is_refused(mfa_user, lifetime):
    from records.sharing import ShareError

    with pytest.raises(ShareError):
        make_share(mfa_user, lifetime=lifetime)


def test_the_key_is_never_stored(generated_owner):
    created = make_share(generated_owner, passcode="tulip-42")
    key = decode_shlink(created.shlink)["key"]
    raw_key = b64url_decode(key)
    rows = json.dumps(list(Share.objects.values()), default=str) + json.dumps(
        list(ShareFile.objects.values()), default=str
    )
    assert key not in rows
    assert base64.b64encode(raw_key).decode() not in rows
    assert raw_key.hex() not in rows


def test_files_are_jwe_dir_a256gcm_with_cty(generated_owner):
    created = make_share(generated_owner)
    _payload, files = _files(created)
    for header, _document in files:
        assert header == {"alg": "dir", "enc": "A256GCM", "cty": "application/fhir+json"}
    # Each file has its own nonce.
    stored = list(ShareFile.objects.filter(share=created.share).values_list("jwe", flat=True))
    assert len({jwe.split(".")[2] for jwe in stored}) == len(stored)


def test_bundle_is_an_ips_shaped_document_whose_references_resolve(generated_owner):
    created = make_share(generated_owner, scope="everything")
    _payload, files = _files(created)
    bundle = files[0][1]
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "document"
    assert bundle["identifier"]["value"].startswith("urn:uuid:")
    assert bundle["timestamp"]
    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["status"] == "final"
    assert composition["type"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "60591-5",
        "display": "Patient summary Document",
    }
    codes = {s["code"]["coding"][0]["code"] for s in composition["section"]}
    assert set(IPS_SECTIONS) <= codes
    assert all(s["code"]["coding"][0]["system"] == "http://loinc.org" for s in composition["section"])
    for section in composition["section"]:
        assert section["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        assert section.get("entry") or section.get("emptyReason")
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    assert len(full_urls) == len(bundle["entry"])
    by_url = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}
    assert by_url[composition["subject"]["reference"]]["resourceType"] == "Patient"
    references: list[str] = []
    _references([entry["resource"] for entry in bundle["entry"]], references)
    unresolved = [r for r in references if not r.startswith("#") and r not in full_urls]
    assert not unresolved
    entries_in_sections = [e["reference"] for s in composition["section"] for e in s.get("entry", [])]
    assert len(entries_in_sections) > 20
    kinds = {by_url[ref]["resourceType"] for ref in entries_in_sections}
    assert {"AllergyIntolerance", "Condition", "Observation", "Immunization"} <= kinds


def test_section_entries_match_their_section(generated_owner):
    _payload, files = _files(make_share(generated_owner))
    bundle = files[0][1]
    by_url = {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}
    expected = {
        "48765-2": {"AllergyIntolerance"},
        "11450-4": {"Condition"},
        "10160-0": {"MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense"},
        "11369-6": {"Immunization"},
        "30954-2": {"Observation", "DiagnosticReport"},
        "8716-3": {"Observation"},
    }
    sections = bundle["entry"][0]["resource"]["section"]
    assert [s["code"]["coding"][0]["code"] for s in sections] == list(expected)
    for section in sections:
        kinds = {by_url[e["reference"]]["resourceType"] for e in section.get("entry", [])}
        assert kinds <= expected[section["code"]["coding"][0]["code"]]


def test_pdf_travels_in_a_document_reference(generated_owner):
    _payload, files = _files(make_share(generated_owner))
    document = files[1][1]
    assert document["resourceType"] == "DocumentReference"
    assert document["status"] == "current"
    attachment = document["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf"
    assert base64.b64decode(attachment["data"]).startswith(b"%PDF-")


def test_chosen_categories_only(generated_owner):
    _payload, files = _files(make_share(generated_owner, scope="categories", categories=["immunizations"]))
    codes = [s["code"]["coding"][0]["code"] for s in files[0][1]["entry"][0]["resource"]["section"]]
    # The chosen part, plus the three sections IPS always requires (empty, with a reason).
    assert codes[0] == "11369-6"
    assert set(codes) == {"11369-6", "48765-2", "11450-4", "10160-0"}


def test_share_is_frozen_at_the_moment_of_sharing(mfa_user, private_storage_dir):
    ingest_bundle(mfa_user, person_bundle(label="Peanut"), request_id="first")
    created = make_share(mfa_user)
    _payload, before = _files(created)
    ingest_bundle(mfa_user, person_bundle(label="Shellfish"), request_id="second")
    _payload, after = _files(created)
    assert json.dumps(before[0][1]) == json.dumps(after[0][1])
    assert "Peanut" in json.dumps(after[0][1]) and "Shellfish" not in json.dumps(after[0][1])
