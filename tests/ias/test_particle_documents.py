"""Particle's C-CDA ZIP: read within its caps, each document a DocumentReference, in the same bundle."""

import base64
import io
import zipfile

import orjson
import pytest

from ias import particle_documents
from ias.particle_documents import CcdaFile, bundle_with_documents, document_reference, zip_read
from records import ccda
from sandbox.generator import ccda_document

CCD = ccda_document(
    title="Continuity of Care Document",
    day="2023-05-17",
    patient="Kam Quark",
    author="Dr Ada",
    custodian="Mercy Clinic",
)
# The header of HL7's C-CDA R2.1 example CCD: a timestamp with seconds and offset, an author
# organization, the custodian, and no narrative at all.
HL7_EXAMPLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <id extension="TT988" root="2.16.840.1.113883.19.5.99999.1"/>
  <code code="34133-9" displayName="Summarization of Episode Note" codeSystem="2.16.840.1.113883.6.1"
        codeSystemName="LOINC"/>
  <title>  Community Health and
     Hospitals: Health Summary</title>
  <effectiveTime value="201308151030-0800"/>
  <author><time value="201308151030-0800"/><assignedAuthor><id root="2.16.840.1.113883.4.6"/>
    <representedOrganization><name>Community Health and Hospitals</name></representedOrganization>
  </assignedAuthor></author>
  <component><structuredBody/></component>
</ClinicalDocument>
"""


def zip_of(*files: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files:
            archive.writestr(name, body)
    return buffer.getvalue()


def marked_encrypted(data: bytes, name: bytes) -> bytes:
    """The ZIP with `name`'s central-directory entry flagged as encrypted (bit 0 of its flags)."""
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(name)] != name:
        at = data.index(b"PK\x01\x02", at + 4)
    flags = int.from_bytes(data[at + 8 : at + 10], "little") | 0x1
    return data[: at + 8] + flags.to_bytes(2, "little") + data[at + 10 :]


def test_every_xml_file_is_kept_and_nothing_else():
    data = zip_of(
        ("docs/", b""),
        ("docs/a.xml", CCD),
        ("B.XML", HL7_EXAMPLE),
        ("style.xsl.txt", b"<xsl/>"),
        ("readme.pdf", b"%PDF-1.4"),
        ("secret.xml", CCD),
    )
    assert [f.name for f in zip_read(data)] == ["docs/a.xml", "B.XML", "secret.xml"]
    assert zip_read(data)[0].data == CCD


def test_encrypted_entries_are_skipped():
    data = marked_encrypted(zip_of(("open.xml", CCD), ("locked.xml", CCD)), b"locked.xml")
    assert [f.name for f in zip_read(data)] == ["open.xml"]


def test_a_file_larger_than_a_document_may_be_is_skipped_by_its_real_size(monkeypatch):
    monkeypatch.setattr(ccda, "MAX_DOCUMENT_BYTES", 5_000)
    bomb = b"<ClinicalDocument>" + b" " * 50_000 + b"</ClinicalDocument>"
    data = zip_of(("bomb.xml", bomb), ("ok.xml", HL7_EXAMPLE))
    assert len(data) < 5_000  # compressed, it looked small
    assert [f.name for f in zip_read(data)] == ["ok.xml"]


def test_the_total_and_the_number_of_files_are_capped(monkeypatch):
    monkeypatch.setattr(particle_documents, "MAX_TOTAL_BYTES", len(CCD) * 2 + 10)
    data = zip_of(*[(f"{n}.xml", CCD) for n in range(4)])
    assert [f.name for f in zip_read(data)] == ["0.xml", "1.xml"]
    monkeypatch.setattr(particle_documents, "MAX_TOTAL_BYTES", 10**9)
    monkeypatch.setattr(particle_documents, "MAX_FILES", 3)
    assert [f.name for f in zip_read(data)] == ["0.xml", "1.xml", "2.xml"]


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 not really a zip", b"PK" + b"\x00" * 100])
def test_an_unreadable_or_empty_zip_gives_no_documents(data):
    assert zip_read(data) == []


def test_a_document_is_named_dated_typed_and_attributed_from_its_header():
    reference = document_reference(CcdaFile(name="docs/a.xml", data=CCD), patient_id="pp1")
    assert reference["resourceType"] == "DocumentReference"
    assert reference["description"] == "Continuity of Care Document"
    assert reference["type"]["coding"] == [
        {"system": "http://loinc.org", "code": "34133-9", "display": "Summarization of episode note"}
    ]
    assert reference["context"] == {"period": {"start": "2023-05-17"}}
    assert reference["custodian"] == {"type": "Organization", "display": "Mercy Clinic"}
    assert reference["subject"] == {"reference": "Patient/pp1"}
    attachment = reference["content"][0]["attachment"]
    assert attachment["contentType"] == "application/xml"
    assert base64.b64decode(attachment["data"]) == CCD
    assert attachment["size"] == len(CCD)
    assert len(reference["id"]) <= 64 and reference["id"].startswith("ccda-")


def test_the_author_organization_names_a_document_without_a_custodian():
    reference = document_reference(CcdaFile(name="b.xml", data=HL7_EXAMPLE), patient_id="pp1")
    assert reference["description"] == "Community Health and Hospitals: Health Summary"
    assert reference["custodian"]["display"] == "Community Health and Hospitals"
    assert reference["context"]["period"]["start"] == "2013-08-15"


def test_the_same_file_keeps_its_id_and_another_file_gets_another():
    first = document_reference(CcdaFile(name="a.xml", data=CCD), patient_id="p")
    again = document_reference(CcdaFile(name="a.xml", data=HL7_EXAMPLE), patient_id="p")
    other = document_reference(CcdaFile(name="b.xml", data=CCD), patient_id="p")
    assert first["id"] == again["id"] != other["id"]


@pytest.mark.parametrize(
    "data",
    [
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'boom'>]><ClinicalDocument>&e;</ClinicalDocument>",
        b"<notes>just a file</notes>",
        b"\xff\xfe not xml",
    ],
)
def test_a_document_that_cannot_be_read_is_still_kept_to_download(data):
    reference = document_reference(CcdaFile(name="odd.xml", data=data), patient_id="p")
    assert base64.b64decode(reference["content"][0]["attachment"]["data"]) == data
    assert "description" not in reference and "custodian" not in reference and "context" not in reference


def test_the_documents_join_the_bundle_after_its_own_entries():
    raw = (
        b'{"resourceType":"Bundle","type":"searchset","total":2,"entry":[ {"resource":{"resourceType":"Patient",'
        b'"id":"p"}} ,\n {"resource":{"resourceType":"Condition","id":"c"}}\n ] }'
    )
    documents = [document_reference(CcdaFile(name="a.xml", data=CCD), patient_id="p")]
    merged, had_entries = bundle_with_documents(raw, documents)
    bundle = orjson.loads(merged)
    assert had_entries
    assert bundle["resourceType"] == "Bundle"
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient", "Condition", "DocumentReference"]
    assert bundle["entry"][2]["fullUrl"] == f"DocumentReference/{documents[0]['id']}"


@pytest.mark.parametrize(
    "raw",
    [b'{"resourceType":"Bundle","entry":[]}', b'{"resourceType":"Bundle","entry":null}', b'{"resourceType":"Bundle"}'],
)
def test_documents_alone_make_a_bundle_and_say_particle_sent_no_resources(raw):
    documents = [document_reference(CcdaFile(name="a.xml", data=CCD), patient_id="p")]
    merged, had_entries = bundle_with_documents(raw, documents)
    assert not had_entries
    assert [e["resource"]["id"] for e in orjson.loads(merged)["entry"]] == [documents[0]["id"]]


@pytest.mark.parametrize("raw", [b"not json", b'{"resourceType":"Bundle","entry":{"a":1}}', b"[1,2]"])
def test_a_bundle_the_ingest_will_refuse_is_passed_on_unchanged(raw):
    documents = [document_reference(CcdaFile(name="a.xml", data=CCD), patient_id="p")]
    assert bundle_with_documents(raw, documents) == (raw, True)


def test_without_documents_the_bundle_is_the_same_bytes():
    raw = b'{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}'
    assert bundle_with_documents(raw, []) == (raw, True)
