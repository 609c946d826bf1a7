"""Section 3: network queries, their IAS checks, per-source webhooks and the bundle links."""

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from sandbox.generator import resource_source
from tests.sandbox import contract
from tests.sandbox.conftest import webhooks
from tests.sandbox.test_api_patients import problem

SOURCES = {
    "hie": {"enabled": True},
    "pharmacy": {"enabled": True, "realtime": False},
    "lab": {"enabled": True},
}


def start(api, patient_id, identity_id, aal2_id, *, sources=SOURCES, purpose="ias", metadata=None):
    body = {"sources": sources, "proofedIdentityId": identity_id}
    if metadata is not None:
        body["metadata"] = metadata
    headers = {"x-aal2-session": aal2_id} if aal2_id else {}
    return api.post(f"/medical/v1/network/query?patientId={patient_id}&purposeOfUse={purpose}", body, headers=headers)


def download(api, url):
    return api.client.get(urlsplit(url).path)


def test_ias_query_runs_every_source_and_links_the_growing_bundle(
    api, ias_ready, eager, django_capture_on_commit_callbacks
):
    patient, identity_id, aal2_id = ias_ready()
    with django_capture_on_commit_callbacks(execute=True):
        response = start(api, patient["id"], identity_id, aal2_id, metadata={"queryRef": "q1"})
    assert response.status_code == 200
    body = response.json()
    assert contract.UUID.match(body["requestId"]) and contract.ISO_UTC.match(body["startedAt"])
    assert body["status"] == "processing" and body["errors"] == []
    assert [s["type"] for s in body["sources"]] == ["hie", "pharmacy", "lab"]
    assert all(s["status"] == "processing" and "completedAt" not in s for s in body["sources"])

    done = api.get(f"/medical/v1/network/query/{body['requestId']}").json()
    assert done["status"] == "completed"
    assert all(s["status"] == "completed" and contract.ISO_UTC.match(s["completedAt"]) for s in done["sources"])

    hooks = webhooks("network-query.")
    assert [h["meta"]["type"] for h in hooks] == [
        "network-query.hie.first-data-ready",
        "network-query.hie",
        "network-query.pharmacy",
        "network-query.lab",
    ]
    first = contract.check_first_data(hooks[0])
    per_source = [
        contract.check_network_query(h, s, "completed")
        for h, s in zip(hooks[1:], ("hie", "pharmacy", "lab"), strict=True)
    ]
    for hook in hooks:
        assert hook["meta"]["requestId"] == body["requestId"]
        assert hook["meta"]["data"] == {"queryRef": "q1"}
        assert hook["payload"]["purposeOfUse"] == "ias"
        assert hook["payload"]["patientId"] == patient["id"] and hook["payload"]["externalId"] == "hp-user-1"

    sizes, seen_sources = [], []
    for payload in [first, *per_source]:
        got = download(api, payload["consolidatedDataUrl"])
        assert got.status_code == 200 and got["Content-Type"] == "application/json"
        bundle = json.loads(got.content)
        sizes.append(len(bundle["entry"]))
        seen_sources.append({resource_source(e["resource"]) for e in bundle["entry"]} - {None})
    assert sizes == sorted(sizes) and len(set(sizes)) == 4, "each link holds more than the one before"
    assert seen_sources == [{"hie"}, {"hie"}, {"hie", "pharmacy"}, {"hie", "pharmacy", "lab"}]


def test_the_older_list_form_and_treatment_purpose(api, make_patient):
    patient = make_patient()
    response = api.post(f"/medical/v1/network/query?patientId={patient['id']}", {"sources": ["lab", "hie"]})
    assert response.status_code == 200
    assert [s["type"] for s in response.json()["sources"]] == ["hie", "lab"]


@pytest.mark.parametrize(
    ("sources", "field"),
    [
        (None, "sources"),
        ({}, "sources"),
        ({"hie": {"enabled": False}}, "sources"),
        (["hie", "fax"], "sources[1]"),
        ({"hie": {"enabled": "yes"}}, "sources.hie.enabled"),
        ({"mail": {"enabled": True}}, "sources.mail"),
        ("hie", "sources"),
    ],
)
def test_bad_sources_are_named(api, make_patient, sources, field):
    patient = make_patient()
    problem(api.post(f"/medical/v1/network/query?patientId={patient['id']}", {"sources": sources}), 400, field)


def test_query_parameter_errors(api, make_patient):
    patient = make_patient()
    problem(api.post("/medical/v1/network/query", {"sources": ["hie"]}), 400, "patientId")
    problem(api.post("/medical/v1/network/query?patientId=nope", {"sources": ["hie"]}), 404)
    problem(
        api.post(f"/medical/v1/network/query?patientId={patient['id']}&purposeOfUse=payment", {"sources": ["hie"]}),
        400,
        "purposeOfUse",
    )
    problem(
        api.post(
            f"/medical/v1/network/query?patientId={patient['id']}",
            {"sources": ["hie"], "metadata": {"k" * 41: "v"}},
        ),
        400,
    )
    problem(
        api.post(
            f"/medical/v1/network/query?patientId={patient['id']}",
            {"sources": ["hie"], "metadata": {str(i): "v" for i in range(51)}},
        ),
        400,
        "metadata",
    )
    problem(api.get("/medical/v1/network/query/not-a-uuid"), 404)
    problem(api.get("/medical/v1/network/query/8d0c6b3e-6a4e-4b7e-9a55-4b8f6c1d2e3f"), 404)


def test_ias_needs_a_proofed_identity(api, ias_ready):
    patient, _identity_id, aal2_id = ias_ready()
    problem(start(api, patient["id"], "", aal2_id), 400, "proofedIdentityId")
    problem(start(api, patient["id"], "pid_unknown", aal2_id), 400, "proofedIdentityId")


def test_ias_needs_a_fresh_aal2_session_of_the_same_identity(api, ias_ready):
    from sandbox.models import Aal2Session

    patient, identity_id, aal2_id = ias_ready()
    problem(start(api, patient["id"], identity_id, ""), 401, "x-aal2-session")
    problem(start(api, patient["id"], identity_id, "aal2_unknown"), 401, "x-aal2-session")
    _other, other_identity, other_aal2 = ias_ready(firstName="Olive")
    problem(start(api, patient["id"], identity_id, other_aal2), 403, "x-aal2-session")
    problem(start(api, patient["id"], other_identity, other_aal2), 403, "proofedIdentityId")
    Aal2Session.objects.filter(pk=aal2_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    body = problem(start(api, patient["id"], identity_id, aal2_id), 401, "x-aal2-session")
    assert "expired" in body["detail"]


def test_aal2_sessions_live_for_the_configured_ttl(api, proofed, aal2, settings):
    from sandbox.models import Aal2Session

    settings.SANDBOX_AAL2_TTL_SECONDS = 900
    _patient, identity_id = proofed()
    session = Aal2Session.objects.get(pk=aal2(identity_id))
    assert timedelta(seconds=890) < session.expires_at - session.created_at <= timedelta(seconds=900)


def test_sources_not_enabled_for_the_account_are_reported_in_errors(api, ias_ready, settings):
    settings.SANDBOX_ACCOUNT_SOURCES = ["hie"]
    patient, identity_id, aal2_id = ias_ready()
    response = start(api, patient["id"], identity_id, aal2_id)
    assert response.status_code == 200
    body = response.json()
    assert [s["type"] for s in body["sources"]] == ["hie"]
    assert {e["source"] for e in body["errors"]} == {"pharmacy", "lab"}
    for error in body["errors"]:
        assert error["httpStatus"] == 403 and "not enabled" in error["message"]
        assert contract.ISO_UTC.match(error["timestamp"])
    settings.SANDBOX_ACCOUNT_SOURCES = []
    nothing = start(api, patient["id"], identity_id, aal2_id).json()
    assert nothing["status"] == "failed" and nothing["sources"] == [] and len(nothing["errors"]) == 3


def test_pharmacy_fail_persona_gives_a_partial_query(api, ias_ready, eager, django_capture_on_commit_callbacks):
    patient, identity_id, aal2_id = ias_ready(firstName="Pat", lastName="Pharmacyfail")
    with django_capture_on_commit_callbacks(execute=True):
        request_id = start(api, patient["id"], identity_id, aal2_id).json()["requestId"]
    body = api.get(f"/medical/v1/network/query/{request_id}").json()
    assert body["status"] == "partial"
    assert {s["type"]: s["status"] for s in body["sources"]} == {
        "hie": "completed",
        "pharmacy": "failed",
        "lab": "completed",
    }
    (hook,) = webhooks("network-query.pharmacy")
    payload = contract.check_network_query(hook, "pharmacy", "failed")
    bundle = json.loads(download(api, payload["consolidatedDataUrl"]).content)
    assert "pharmacy" not in {resource_source(e["resource"]) for e in bundle["entry"]}


def test_no_records_persona_completes_with_only_the_patient(api, ias_ready, eager, django_capture_on_commit_callbacks):
    patient, identity_id, aal2_id = ias_ready(firstName="Pat", lastName="Norecords")
    with django_capture_on_commit_callbacks(execute=True):
        start(api, patient["id"], identity_id, aal2_id)
    hooks = webhooks("network-query.")
    assert [h["meta"]["type"] for h in hooks] == [
        "network-query.hie",
        "network-query.pharmacy",
        "network-query.lab",
    ]
    bundle = json.loads(download(api, hooks[-1]["payload"]["consolidatedDataUrl"]).content)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient"]


def test_links_expire(api, ias_ready, eager, django_capture_on_commit_callbacks, settings):
    settings.SANDBOX_LINK_TTL_SECONDS = 180
    patient, identity_id, aal2_id = ias_ready()
    with django_capture_on_commit_callbacks(execute=True):
        start(api, patient["id"], identity_id, aal2_id, sources=["lab"])
    url = webhooks("network-query.lab")[0]["payload"]["consolidatedDataUrl"]
    assert download(api, url).status_code == 200
    import time as time_module

    real = time_module.time
    try:
        time_module.time = lambda: real() + 181
        expired = download(api, url)
    finally:
        time_module.time = real
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    tampered = url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb")
    assert download(api, tampered).status_code == 403


def test_source_tasks_are_idempotent(api, ias_ready, eager, django_capture_on_commit_callbacks):
    from sandbox import tasks
    from sandbox.models import NetworkQuerySource

    patient, identity_id, aal2_id = ias_ready()
    with django_capture_on_commit_callbacks(execute=True):
        start(api, patient["id"], identity_id, aal2_id, sources=["hie"])
    row = NetworkQuerySource.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.network_query_source_complete.apply(args=[row.pk])
        tasks.network_query_first_data.apply(args=[row.pk])
    assert len(webhooks("network-query.")) == 2
