"""The webhook shapes of network-api.md section 7, checked independently of the sandbox's code."""

import re

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def check_envelope(body: dict, type_: str) -> dict:
    meta = body["meta"]
    assert UUID.match(meta["messageId"])
    assert ISO_UTC.match(meta["when"]), meta["when"]
    assert meta["type"] == type_
    if "data" in meta:
        assert isinstance(meta["data"], dict)
    return meta


def check_network_query(body: dict, source: str, status: str) -> dict:
    check_envelope(body, f"network-query.{source}")
    payload = body["payload"]
    assert isinstance(payload["patientId"], str)
    assert payload["consolidatedDataUrl"].startswith("http")
    src = payload["source"]
    assert src["type"] == source
    assert src["status"] == status
    assert ISO_UTC.match(src["completedAt"])
    return payload


def check_first_data(body: dict) -> dict:
    check_envelope(body, "network-query.hie.first-data-ready")
    payload = body["payload"]
    assert payload["consolidatedDataUrl"].startswith("http")
    assert payload["source"]["type"] == "hie"
    assert payload["source"]["status"] == "processing"
    assert ISO_UTC.match(payload["source"]["firstDataReadyAt"])
    return payload


def check_consolidated(body: dict) -> dict:
    check_envelope(body, "medical.consolidated-data")
    (item,) = body["patients"]
    assert isinstance(item["patientId"], str)
    assert item["status"] in ("completed", "failed")
    bundle = item["bundle"]
    assert bundle["resourceType"] == "Bundle"
    for entry in bundle.get("entry", []):
        assert entry["resource"]["resourceType"] == "DocumentReference"
    return item


def check_identity(body: dict) -> dict:
    assert body["meta"]["type"].startswith("ias.")
    check_envelope(body, body["meta"]["type"])
    payload = body["payload"]
    assert isinstance(payload["patientId"], str)
    if body["meta"]["type"] == "ias.identity.verified":
        assert payload["proofedIdentityId"].startswith("pid_")
    return payload


def check_documents(body: dict, type_: str, *, with_urls: bool = False) -> dict:
    check_envelope(body, type_)
    (item,) = body["patients"]
    assert isinstance(item["patientId"], str)
    assert item["status"] == "completed"
    for doc in item.get("documents", []):
        assert doc["fileName"] and doc["mimeType"]
        if with_urls:
            assert doc["url"].startswith("http")
    return item
