"""Documents: a named file with the right extension, PDFs open in the browser, a C-CDA reads as a page."""

import base64
import re
import tempfile
from typing import Any

import pytest
from django.urls import reverse

from records import download
from records.documents import attachment_label, document_file_name
from records.models import Resource
from sandbox.generator import ccda_document, minimal_pdf
from tests.records.conftest import ingest_bundle

pytestmark = pytest.mark.django_db

CCDA = ccda_document(title="Discharge summary", day="2021-03-04", patient="Ann Lee", author="Dr Grace Patel")
HOSTILE = (
    b'<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"><title>Visit</title>'
    b"<component><structuredBody><component><section><title>Plan &lt;script&gt;</title><text>"
    b'<paragraph onclick="alert(1)">Rest<script>alert(2)</script></paragraph>'
    b'<linkHtml href="javascript:alert(3)">more</linkHtml></text></section></component>'
    b"</structuredBody></component></ClinicalDocument>"
)


def document_bundle(*attachments: dict) -> dict:
    entries: list[dict[str, Any]] = [{"resource": {"resourceType": "Patient", "id": "p1"}}]
    for n, attachment in enumerate(attachments):
        entries.append(
            {
                "resource": {
                    "resourceType": "DocumentReference",
                    "id": f"doc{n}",
                    "status": "current",
                    "type": {
                        "coding": [{"system": "http://loinc.org", "code": "18842-5", "display": "Discharge summary"}]
                    },
                    "date": "2021-03-04T15:30:00Z",
                    "content": [{"attachment": attachment}],
                }
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def inline(content_type: str, body: bytes, title: str = "document-171-0") -> dict:
    return {"contentType": content_type, "data": base64.b64encode(body).decode(), "title": title}


@pytest.fixture
def documents_owner(mfa_user, private_storage_dir):
    ingest_bundle(
        mfa_user,
        document_bundle(
            inline("application/pdf", minimal_pdf("Discharge summary")),
            inline("text/xml", CCDA),
            inline("application/xml", HOSTILE),
            inline("text/plain", b"plain"),
            inline("text/xml", b"<not-a-cda/>"),
            {"contentType": "text/xml", "url": "https://files.example/x?fileName=p1_doc5.xml"},
        ),
    )
    return mfa_user


def pk(owner, rid: str) -> int:
    return Resource.objects.get(user=owner, resource_id=rid).pk


@pytest.mark.parametrize(
    ("title", "date_text", "content_type", "expected"),
    [
        ("Discharge summary", "2021-03-04T15:30:00Z", "application/pdf", "discharge-summary-2021-03-04.pdf"),
        ("CCD 2021-03-04", "2021-03-04", "text/xml", "ccd-2021-03-04.xml"),
        ("Summarization of episode note", "", "application/xml; charset=utf-8", "summarization-of-episode-note.xml"),
        ("", "2021-03", "text/plain", "document.txt"),
        ('Lab report \u00e9\u00e8 / "quoted"', "2020-01-02", "image/png", "lab-report-quoted-2020-01-02.png"),
        ("x", "", "application/x-unknown", "x.bin"),
    ],
)
def test_file_names_say_what_the_document_is(title, date_text, content_type, expected):
    assert document_file_name(title=title, date_text=date_text, content_type=content_type) == expected


def test_a_pdf_opens_in_the_browser_with_a_file_name(documents_owner, client_mfa):
    response = client_mfa.get(reverse("records:document", args=[pk(documents_owner, "doc0"), 0]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="discharge-summary-2021-03-04.pdf"'
    assert response.content.startswith(b"%PDF-")


@pytest.mark.parametrize(("rid", "extension"), [("doc1", "xml"), ("doc2", "xml"), ("doc3", "txt")])
def test_other_documents_download_with_their_extension(documents_owner, client_mfa, rid, extension):
    response = client_mfa.get(reverse("records:document", args=[pk(documents_owner, rid), 0]))
    disposition = response["Content-Disposition"]
    assert disposition == f'attachment; filename="discharge-summary-2021-03-04.{extension}"'
    assert "document-" not in disposition


def test_a_ccda_reads_as_a_page_of_sections(documents_owner, client_mfa):
    response = client_mfa.get(reverse("records:document_read", args=[pk(documents_owner, "doc1"), 0]))
    assert response.status_code == 200
    page = response.content.decode()
    for title in ("Allergies and Adverse Reactions", "Problems", "Medications", "Results", "Social History"):
        assert f">{title}</h2>" in page
    assert "<caption>Allergies</caption>" in page and '<span class="cda-bold">Moderate</span>' in page
    assert "ClinicalDocument" not in page and "urn:hl7-org:v3" not in page
    assert reverse("records:document", args=[pk(documents_owner, "doc1"), 0]) in page


def test_a_hostile_ccda_is_defused(documents_owner, client_mfa):
    response = client_mfa.get(reverse("records:document_read", args=[pk(documents_owner, "doc2"), 0]))
    page = response.content.decode()
    assert response.status_code == 200 and "Rest" in page
    assert "alert" not in page and "javascript:" not in page
    assert "Plan &lt;script&gt;" in page
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>[^<]*alert", page) is None


def test_a_document_that_is_not_a_ccda_says_so(documents_owner, client_mfa):
    response = client_mfa.get(reverse("records:document_read", args=[pk(documents_owner, "doc4"), 0]))
    assert response.status_code == 200
    assert "could not read this document" in response.content.decode()


def test_reading_a_pdf_sends_to_the_file(documents_owner, client_mfa):
    url = reverse("records:document_read", args=[pk(documents_owner, "doc0"), 0])
    response = client_mfa.get(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("records:document", args=[pk(documents_owner, "doc0"), 0])


def fake_provider(*, user_id, attachment_url, content_type):
    assert attachment_url == "https://files.example/x?fileName=p1_doc5.xml"
    return "https://files.example/signed/p1_doc5.xml"


def test_a_ccda_held_at_the_network_is_fetched_through_its_link(documents_owner, client_mfa, settings, monkeypatch):
    settings.RECORDS_DOCUMENT_URL_PROVIDER = "tests.records.test_documents.fake_provider"
    fetched = []

    def fake_download(*, url):
        fetched.append(url)
        with tempfile.NamedTemporaryFile(delete=False) as handle:
            handle.write(CCDA)
        return download.Downloaded(path=handle.name, size=len(CCDA), sha256="", elapsed_ms=1)

    monkeypatch.setattr(download, "bundle_download", fake_download)
    response = client_mfa.get(reverse("records:document_read", args=[pk(documents_owner, "doc5"), 0]))
    assert fetched == ["https://files.example/signed/p1_doc5.xml"]
    assert ">Plan of Treatment</h2>" in response.content.decode()


def test_a_network_failure_is_a_sentence_not_an_error(documents_owner, client_mfa, settings):
    settings.RECORDS_DOCUMENT_URL_PROVIDER = "tests.records.test_documents.broken_provider"
    response = client_mfa.get(reverse("records:document_read", args=[pk(documents_owner, "doc5"), 0]))
    assert response.status_code == 200
    assert "could not get this document from the network" in response.content.decode()


def broken_provider(**kwargs):
    raise RuntimeError("network down")


def test_a_machine_file_name_is_not_shown_as_the_title(documents_owner, client_mfa):
    page = client_mfa.get(reverse("records:item", args=[pk(documents_owner, "doc5")])).content.decode()
    assert "Read Discharge summary" in page

    assert attachment_label(title="p1_doc5.xml", fallback="Discharge summary") == "Discharge summary"
    assert attachment_label(title="Visit note", fallback="Discharge summary") == "Visit note"
    assert attachment_label(title="", fallback="") == "Document"


def test_the_item_page_offers_to_read_a_ccda(documents_owner, client_mfa):
    page = client_mfa.get(reverse("records:item", args=[pk(documents_owner, "doc1")])).content.decode()
    assert reverse("records:document_read", args=[pk(documents_owner, "doc1"), 0]) in page
    assert "Clinical document (C-CDA)" in page
