"""Sections 4 and 5: consolidated-data queries and documents, with their webhooks and links."""

import gzip
import json
from urllib.parse import urlsplit

import pytest

from tests.sandbox import contract
from tests.sandbox.conftest import webhooks
from tests.sandbox.test_api_patients import problem


def cq(api, patient_id, query="conversionType=json", body=None):
    return api.post(f"/medical/v1/patient/{patient_id}/consolidated/query?{query}", body)


def fetch(api, url):
    return api.client.get(urlsplit(url).path)


def test_json_query_answers_with_a_bundle_and_its_gzip_copy(
    api, make_patient, eager, django_capture_on_commit_callbacks
):
    patient = make_patient()
    with django_capture_on_commit_callbacks(execute=True):
        response = cq(api, patient["id"], body={"metadata": {"why": "refresh"}})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "processing" and body["conversionType"] == "json"
    assert contract.UUID.match(body["requestId"]) and contract.ISO_UTC.match(body["startedAt"])
    (hook,) = webhooks("medical.consolidated-data")
    item = contract.check_consolidated(hook)
    assert hook["meta"]["data"] == {"why": "refresh"} and hook["meta"]["requestId"] == body["requestId"]
    assert item["patientId"] == patient["id"] and item["externalId"] == "hp-user-1"
    assert item["filters"] == {"conversionType": "json"}
    content = item["bundle"]["entry"][0]["resource"]["content"]
    assert [c["attachment"]["contentType"] for c in content] == ["application/json", "application/gzip"]
    plain = fetch(api, content[0]["attachment"]["url"])
    zipped = fetch(api, content[1]["attachment"]["url"])
    assert plain.status_code == zipped.status_code == 200
    assert json.loads(gzip.decompress(zipped.content)) == json.loads(plain.content)
    assert len(json.loads(plain.content)["entry"]) == 300
    listed = api.get(f"/medical/v1/patient/{patient['id']}/consolidated/query").json()["queries"]
    assert [q["requestId"] for q in listed] == [body["requestId"]] and listed[0]["status"] == "completed"
    one = api.get(f"/medical/v1/patient/{patient['id']}/consolidated/query/{body['requestId']}").json()
    assert one["status"] == "completed"


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"),
    [("html", "text/html", b"<!DOCTYPE html>"), ("pdf", "application/pdf", b"%PDF-")],
)
def test_html_and_pdf(api, make_patient, eager, django_capture_on_commit_callbacks, fmt, content_type, magic):
    patient = make_patient()
    with django_capture_on_commit_callbacks(execute=True):
        cq(api, patient["id"], f"conversionType={fmt}")
    item = contract.check_consolidated(webhooks("medical.consolidated-data")[0])
    (content,) = item["bundle"]["entry"][0]["resource"]["content"]
    assert content["attachment"]["contentType"] == content_type
    got = fetch(api, content["attachment"]["url"])
    assert got.status_code == 200 and got.content.startswith(magic)


def test_filters_cut_the_bundle(api, make_patient, eager, django_capture_on_commit_callbacks):
    patient = make_patient()
    with django_capture_on_commit_callbacks(execute=True):
        body = cq(
            api,
            patient["id"],
            "conversionType=json&resources=Condition,Observation&dateFrom=2020-01-01&dateTo=2024-12-31",
        ).json()
    assert body["resources"] == ["Condition", "Observation"]
    assert body["dateFrom"] == "2020-01-01" and body["dateTo"] == "2024-12-31"
    item = contract.check_consolidated(webhooks("medical.consolidated-data")[0])
    assert item["filters"]["resources"] == "Condition,Observation"
    url = item["bundle"]["entry"][0]["resource"]["content"][0]["attachment"]["url"]
    bundle = json.loads(fetch(api, url).content)
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert types == {"Patient", "Condition", "Observation"}
    for entry in bundle["entry"]:
        when = entry["resource"].get("effectiveDateTime") or entry["resource"].get("onsetDateTime")
        if when:
            assert "2020" <= when[:4] <= "2024"


def test_no_records_gives_an_empty_bundle(api, make_patient, eager, django_capture_on_commit_callbacks):
    patient = make_patient(firstName="Pat", lastName="Norecords")
    with django_capture_on_commit_callbacks(execute=True):
        cq(api, patient["id"])
    item = contract.check_consolidated(webhooks("medical.consolidated-data")[0])
    assert item["bundle"]["entry"] == [] and item["bundle"]["total"] == 0


def test_an_identical_running_query_is_returned(api, make_patient):
    patient = make_patient()
    first = cq(api, patient["id"]).json()
    assert cq(api, patient["id"]).json()["requestId"] == first["requestId"]
    assert cq(api, patient["id"], "conversionType=pdf").json()["requestId"] != first["requestId"]


def test_consolidated_errors(api, make_patient):
    patient = make_patient()
    problem(cq(api, patient["id"], ""), 400, "conversionType")
    problem(cq(api, patient["id"], "conversionType=xml"), 400, "conversionType")
    problem(cq(api, patient["id"], "conversionType=json&resources=Spaceship"), 400, "resources")
    problem(cq(api, patient["id"], "conversionType=json&dateFrom=2020-13-01"), 400, "dateFrom")
    problem(cq(api, patient["id"], "conversionType=json&dateTo=yesterday"), 400, "dateTo")
    problem(cq(api, patient["id"], "conversionType=json&dateFrom=2021-01-01&dateTo=2020-01-01"), 400, "dateFrom")
    problem(cq(api, "nope"), 404)
    assert api.get(f"/medical/v1/patient/{patient['id']}/consolidated/query").json() == {"queries": None}
    problem(
        api.get(f"/medical/v1/patient/{patient['id']}/consolidated/query/8d0c6b3e-6a4e-4b7e-9a55-4b8f6c1d2e3f"),
        404,
    )


def test_documents_list_and_download_links(api, make_patient):
    patient = make_patient()
    response = api.get("/medical/v1/document", patientId=patient["id"])
    assert response.status_code == 200
    docs = response.json()["documents"]
    # Clean documents are application/xml; converted ones (the sandbox's default "mixed" shape) text/xml.
    assert docs and {d["mimeType"] for d in docs} == {"application/xml", "text/xml", "application/pdf"}
    for doc in docs[:4]:
        link = api.get("/medical/v1/document/download-url", fileName=doc["fileName"])
        assert link.status_code == 200
        got = fetch(api, link.json()["url"])
        assert got.status_code == 200 and got["Content-Type"] == doc["mimeType"] and len(got.content) == doc["size"]
    xml_doc = next(d for d in docs if d["mimeType"] == "application/xml")
    html = fetch(
        api,
        api.get("/medical/v1/document/download-url", fileName=xml_doc["fileName"], conversionType="html").json()["url"],
    )
    assert html["Content-Type"] == "text/html" and b"ClinicalDocument" in html.content
    problem(api.get("/medical/v1/document/download-url"), 400, "fileName")
    problem(api.get("/medical/v1/document/download-url", fileName="nope_nope.xml"), 404)
    problem(
        api.get("/medical/v1/document/download-url", fileName=xml_doc["fileName"], conversionType="doc"),
        400,
        "conversionType",
    )
    problem(api.get("/medical/v1/document"), 400, "patientId")
    problem(api.get("/medical/v1/document", patientId="nope"), 404)


def test_bulk_download_urls_arrive_by_webhook(api, make_patient, eager, django_capture_on_commit_callbacks):
    patient = make_patient()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/medical/v1/document/download-url/bulk?patientId={patient['id']}")
    assert response.status_code == 200 and response.json()["status"] == "processing"
    (hook,) = webhooks("medical.document-bulk-download-urls")
    item = contract.check_documents(hook, "medical.document-bulk-download-urls", with_urls=True)
    assert fetch(api, item["documents"][0]["url"]).status_code == 200
    problem(api.post("/medical/v1/document/download-url/bulk"), 400, "patientId")


def test_document_query_sends_download_and_conversion_webhooks(
    api, make_patient, eager, django_capture_on_commit_callbacks
):
    patient = make_patient()
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(f"/medical/v1/document/query?patientId={patient['id']}").json()
    assert started["download"]["status"] == "processing"
    contract.check_documents(webhooks("medical.document-download")[0], "medical.document-download")
    item = contract.check_documents(webhooks("medical.document-conversion")[0], "medical.document-conversion")
    assert item["type"] == "document-conversion"
    status = api.get("/medical/v1/document/query", patientId=patient["id"]).json()
    assert status["requestId"] == started["requestId"] and status["download"]["status"] == "completed"
