"""Documents held at the network: the records page asks ias for a short-lived link, on demand."""

import httpx
import pytest

from ias.errors import JourneyError
from ias.models import NetworkPatient
from ias.patients import document_link_for
from tests.records.conftest import ingest_bundle

pytestmark = pytest.mark.django_db

ATTACHMENT = "https://api.metriport.com/doc?fileName=cx1%2Fpat_1%2Fcx1_pat_1_summary.xml"


def _document_bundle(url: str) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1"}},
            {
                "resource": {
                    "resourceType": "DocumentReference",
                    "id": "doc1",
                    "status": "current",
                    "date": "2024-05-01",
                    "type": {"text": "Visit summary"},
                    "content": [{"attachment": {"contentType": "application/xml", "url": url}}],
                }
            },
        ],
    }


def test_the_file_name_is_asked_of_the_network(network, mfa_user):
    NetworkPatient.objects.create(user=mfa_user, patient_id="pat_1", facility_id="fac")
    network.on("GET", "/medical/v1/document/download-url", httpx.Response(200, json={"url": "https://s3.test/x?sig=1"}))
    link = document_link_for(user_id=mfa_user.pk, attachment_url=ATTACHMENT, content_type="application/xml")
    assert link == "https://s3.test/x?sig=1"
    (call,) = network.calls_to("GET", "/medical/v1/document/download-url")
    assert call[2]["fileName"] == "cx1/pat_1/cx1_pat_1_summary.xml"


def test_a_person_without_a_network_link_gets_no_document(network, mfa_user):
    with pytest.raises(JourneyError):
        document_link_for(user_id=mfa_user.pk, attachment_url=ATTACHMENT)
    assert network.calls_to("GET", "/medical/v1/document/download-url") == []


def test_the_document_page_redirects_to_the_network_link(network, mfa_user, client_mfa, private_storage_dir):
    from records.models import Resource

    NetworkPatient.objects.create(user=mfa_user, patient_id="pat_1", facility_id="fac")
    network.on("GET", "/medical/v1/document/download-url", httpx.Response(200, json={"url": "https://s3.test/d?sig=2"}))
    ingest_bundle(mfa_user, _document_bundle(ATTACHMENT))
    document = Resource.objects.get(user=mfa_user, resource_type="DocumentReference")
    response = client_mfa.get(f"/records/item/{document.pk}/document/0/")
    assert response.status_code == 302
    assert response.url == "https://s3.test/d?sig=2"


def test_a_network_failure_is_a_plain_sentence_not_an_error_page(network, mfa_user, client_mfa, private_storage_dir):
    from records.models import Resource

    NetworkPatient.objects.create(user=mfa_user, patient_id="pat_1", facility_id="fac")
    network.on("GET", "/medical/v1/document/download-url", httpx.Response(503, json={"detail": "down"}))
    ingest_bundle(mfa_user, _document_bundle(ATTACHMENT))
    document = Resource.objects.get(user=mfa_user, resource_type="DocumentReference")
    response = client_mfa.get(f"/records/item/{document.pk}/document/0/", follow=True)
    assert response.status_code == 200
    assert b"could not give us this document right now" in response.content
