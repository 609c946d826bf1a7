"""The sandbox's Particle, checked against Particle's published example payloads.

Most tests use the Django client; `test_the_portal_client_walks_the_whole_query` drives the
portal's own Particle client through the whole Django stack (an httpx transport over it), and the delivery tests receive
signed CloudEvents over real HTTP and check them with the portal's webhook reader.
"""

import base64
import io
import json
import re
import time
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ias import particle as portal_particle
from ias.network import NetworkPermanentError, NetworkTransientError
from ias.particle_webhook import receive
from sandbox import particle, tasks
from sandbox.models import Fault, ParticlePatient, ParticleQuery, WebhookDelivery
from tests.sandbox import particle_examples as examples
from tests.sandbox.conftest import Receiver
from tests.sandbox.particle_helpers import DjangoTransport, advance

CLIENT_ID = "particle-test-client"
CLIENT_SECRET = "particle-test-secret"
WEBHOOK_SECRET = "particle-test-webhook"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(autouse=True)
def particle_settings(settings):
    settings.SANDBOX_PARTICLE_CLIENT_ID = CLIENT_ID
    settings.SANDBOX_PARTICLE_CLIENT_SECRET = CLIENT_SECRET
    settings.SANDBOX_PARTICLE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.SANDBOX_PARTICLE_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"
    settings.SANDBOX_PARTICLE_TOKEN_TTL_SECONDS = 3600
    settings.SANDBOX_PARTICLE_QUERY_DELAY_SECONDS = 3.0
    settings.SANDBOX_PARTICLE_STATUS_404_SECONDS = 1.0
    settings.SANDBOX_PARTICLE_EVENT_VERSION = "v2"
    settings.PARTICLE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


@pytest.fixture(autouse=True)
def completions(monkeypatch):
    """Query completions are recorded, never sent to a broker; tests run them by hand."""
    calls: list[tuple[list, float]] = []

    def fake(args=None, kwargs=None, countdown=0, **options):
        calls.append((list(args or []), countdown))

    monkeypatch.setattr(tasks.particle_query_complete, "apply_async", fake)
    return calls


class ParticleApi:
    def __init__(self, client: Client):
        self.client = client
        self.token = ""

    def auth(self, *, client_id=CLIENT_ID, secret=CLIENT_SECRET, scope="projects/p1", method="get"):
        headers = {"client-id": client_id, "client-secret": secret, "accept": "text/plain"}
        if scope:
            headers["scope"] = scope
        return getattr(self.client, method)("/sandbox/particle/auth", headers=headers)

    def headers(self):
        if not self.token:
            self.token = self.auth().content.decode()
        return {"authorization": f"Bearer {self.token}"}

    def get(self, path, **params):
        return self.client.get(f"/sandbox/particle{path}", params, headers=self.headers())

    def post(self, path, body):
        return self.client.post(
            f"/sandbox/particle{path}", json.dumps(body), content_type="application/json", headers=self.headers()
        )

    def delete(self, path):
        return self.client.delete(f"/sandbox/particle{path}", headers=self.headers())


@pytest.fixture
def papi(db):
    return ParticleApi(Client())


def register(papi, body=None):
    response = papi.post("/api/v2/patients", body or examples.REGISTER_KAM)
    assert response.status_code == 200, response.content
    return response.json()


def submit(papi, ppid, body=None):
    response = papi.post(f"/api/v2/patients/{ppid}/query", body or examples.QUERY_REQUEST)
    assert response.status_code == 200, response.content
    return response.json()


# ---- auth ------------------------------------------------------------------------------------------


def test_auth_answers_a_plain_text_jwt_that_lives_an_hour(papi):
    response = papi.auth()
    assert response.status_code == 200 and response["content-type"].startswith("text/plain")
    token = response.content.decode()
    _header, payload, _sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == 3600 and claims["scope"] == "projects/p1"
    assert portal_particle.jwt_expiry(token) == claims["exp"]


def test_auth_post_answers_the_management_form(papi):
    response = papi.auth(method="post")
    assert response.status_code == 200
    assert re.fullmatch(r"access_token=[\w.\-]+&expires_in=3600", response.content.decode())


@pytest.mark.parametrize(("client_id", "secret"), [("wrong", CLIENT_SECRET), (CLIENT_ID, "wrong"), ("", "")])
def test_wrong_credentials_are_401(papi, client_id, secret):
    response = papi.auth(client_id=client_id, secret=secret)
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


def test_a_scope_that_is_not_a_project_is_403(papi):
    assert papi.auth(scope="everything").status_code == 403


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer a.b", "Bearer a.b.c", "Basic abc"])
def test_endpoints_need_a_valid_bearer_token(papi, authorization):
    response = papi.client.post(
        "/sandbox/particle/api/v2/patients",
        json.dumps(examples.REGISTER_KAM),
        content_type="application/json",
        headers={"authorization": authorization} if authorization else {},
    )
    assert response.status_code == 401


def test_an_expired_token_is_401(papi, settings):
    settings.SANDBOX_PARTICLE_TOKEN_TTL_SECONDS = -1
    response = papi.post("/api/v2/patients", examples.REGISTER_KAM)
    assert response.status_code == 401 and response.json()["message"] == "token expired"


def test_the_expired_token_fault_refuses_tokens_long_before_their_exp(papi):
    assert register(papi)
    Fault.objects.create(kind="expired_token", seconds=0)
    assert papi.get("/api/v2/patients/x").status_code == 401
    papi.token = ""
    assert papi.get("/api/v2/patients/x").status_code == 401


# ---- patients --------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", [examples.REGISTER_KAM, examples.REGISTER_ELVIRA], ids=["kam", "elvira"])
def test_the_documented_registrations_are_accepted_and_echoed(papi, example):
    body = register(papi, example)
    assert re.fullmatch(r"[0-9a-f-]{36}", body["particle_patient_id"])
    for key in ("given_name", "family_name", "date_of_birth", "postal_code", "address_city", "patient_id"):
        assert body[key] == example[key]
    assert body["gender"] == example["gender"].upper() and body["address_state"] == example["address_state"]


def test_registration_is_idempotent_for_the_same_person_and_updates_the_address(papi):
    first = register(papi)
    again = register(papi, {**examples.REGISTER_KAM, "address_city": "Queens", "postal_code": "11375"})
    assert again["particle_patient_id"] == first["particle_patient_id"] and again["address_city"] == "Queens"
    assert ParticlePatient.objects.count() == 1


def test_the_same_patient_id_with_another_person_is_an_overlay_error(papi):
    register(papi)
    response = papi.post("/api/v2/patients", {**examples.REGISTER_KAM, "given_name": "Kim"})
    assert response.status_code == 400 and "overlay" in response.json()["message"]


@pytest.mark.parametrize("field", portal_particle.ParticlePatient.__struct_fields__[:8])
def test_each_required_field_is_required(papi, field):
    body = {k: v for k, v in examples.REGISTER_KAM.items() if k != field}
    response = papi.post("/api/v2/patients", body)
    assert response.status_code == 400 and field in response.json()["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"address_state": "Massachusetts"}, "address_state"),
        ({"address_state": "ZZ"}, "address_state"),
        ({"gender": "OTHER"}, "gender"),
        ({"postal_code": "1234"}, "postal_code"),
        ({"postal_code": "123456789"}, "postal_code"),
        ({"date_of_birth": "12/01/1954"}, "date_of_birth"),
        ({"address_lines": "999 Dev Drive"}, "address_lines"),
    ],
)
def test_invalid_values_are_422(papi, change, field):
    response = papi.post("/api/v2/patients", {**examples.REGISTER_KAM, **change})
    assert response.status_code == 422 and field in response.json()["message"]


def test_a_nine_digit_zip_is_accepted(papi):
    assert register(papi, {**examples.REGISTER_KAM, "postal_code": "11111-2222"})["postal_code"] == "11111-2222"


def test_delete_by_particle_id_and_by_the_callers_id(papi):
    ppid = register(papi)["particle_patient_id"]
    assert papi.get(f"/api/v2/patients/{ppid}").status_code == 200
    response = papi.delete(f"/api/v2/patients/{ppid}")
    assert response.status_code == 200 and response.content == b"delete successful"
    assert papi.get(f"/api/v2/patients/{ppid}").status_code == 404
    register(papi)
    assert papi.delete(f"/api/v1/patients/{examples.REGISTER_KAM['patient_id']}").status_code == 200
    assert not ParticlePatient.objects.exists()


# ---- queries ----------------------------------------------------------------------------------------


def test_the_documented_query_request_answers_the_documented_shape(
    papi, completions, django_capture_on_commit_callbacks
):
    ppid = register(papi)["particle_patient_id"]
    with django_capture_on_commit_callbacks(execute=True):
        body = submit(papi, ppid)
    assert set(body) == set(examples.QUERY_RESPONSE)
    assert body["particle_patient_id"] == ppid and body["external_patient_id"] == "kam-quark-1"
    assert body["purpose_of_use"] == "TREATMENT" and body["specialties"] == ["CARDIOLOGY"]
    assert body["hints"] == ["10001"]
    assert completions == [([body["query_id"]], 3.0)]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"purpose_of_use": "IAS"},
        {"purpose_of_use": "treatment"},
        {"purpose_of_use": "TREATMENT", "specialties": ["DERMATOLOGY"]},
        {"purpose_of_use": "TREATMENT", "hints": "10001"},
    ],
)
def test_bad_query_requests_are_400(papi, body):
    ppid = register(papi)["particle_patient_id"]
    assert papi.post(f"/api/v2/patients/{ppid}/query", body).status_code == 400


def test_a_query_for_an_unknown_patient_is_404(papi):
    assert papi.post("/api/v2/patients/nobody/query", examples.QUERY_REQUEST).status_code == 404


def test_status_follows_the_clock_404_pending_processing_complete(papi):
    ppid = register(papi)["particle_patient_id"]
    query_id = submit(papi, ppid)["query_id"]
    assert papi.get(f"/api/v2/patients/{ppid}/query").status_code == 404
    advance(query_id, to="visible")
    assert papi.get(f"/api/v2/patients/{ppid}/query").json()["state"] == "PENDING"
    advance(query_id, to="running")
    assert papi.get(f"/api/v2/patients/{ppid}/query", query_id=query_id).json()["state"] == "PROCESSING"
    advance(query_id, to="finished")
    body = papi.get(f"/api/v2/patients/{ppid}/query", query_id=query_id).json()
    assert set(examples.QUERY_STATUS) <= set(body)
    assert body["state"] == "COMPLETE" and body["files_available"] >= 2 and body["error_message"] is None


def test_status_by_query_id_picks_that_query(papi):
    ppid = register(papi)["particle_patient_id"]
    first = submit(papi, ppid)["query_id"]
    advance(first, to="finished")
    second = submit(papi, ppid)["query_id"]
    assert papi.get(f"/api/v2/patients/{ppid}/query").status_code == 404
    assert papi.get(f"/api/v2/patients/{ppid}/query", query_id=first).json()["state"] == "COMPLETE"
    assert papi.get(f"/api/v2/patients/{ppid}/query", query_id="not-a-uuid").status_code == 404
    assert second != first


def test_completion_sends_one_cloudevent_in_the_documented_v2_shape(papi):
    ppid = register(papi)["particle_patient_id"]
    query_id = submit(papi, ppid)["query_id"]
    advance(query_id, to="finished")
    particle.query_complete(query_id=query_id)
    (delivery,) = WebhookDelivery.objects.filter(network="particle")
    event = json.loads(delivery.body)
    assert set(event) == set(examples.EVENT_V2) and set(event["data"]) == set(examples.EVENT_V2["data"])
    assert event["type"] == "com.particlehealth.api.v2.query" and event["source"] == "api/notifications"
    assert event["id"] == str(delivery.message_id) and event["subject"] == "FHIR_R4 Query Complete"
    assert event["data"]["query_id"] == query_id and event["data"]["particle_patient_id"] == ppid
    assert event["data"]["status"] == "COMPLETE" and event["data"]["file_count"].isdigit()


def test_the_v1_shape_on_request(papi, settings):
    settings.SANDBOX_PARTICLE_EVENT_VERSION = "v1"
    ppid = register(papi)["particle_patient_id"]
    advance(submit(papi, ppid)["query_id"], to="finished")
    event = json.loads(WebhookDelivery.objects.get(network="particle").body)
    assert event["type"] == "com.particlehealth.api.v1.query"
    assert set(event["data"]) == set(examples.EVENT_V1["data"])


def test_personas_shape_the_outcome(papi):
    partial = register(papi, {**examples.REGISTER_KAM, "given_name": "Pat", "family_name": "Pharmacyfail"})
    empty = register(
        papi, {**examples.REGISTER_KAM, "given_name": "Pat", "family_name": "Norecords", "patient_id": "nr-1"}
    )
    advance(submit(papi, partial["particle_patient_id"])["query_id"], to="finished")
    advance(submit(papi, empty["particle_patient_id"])["query_id"], to="finished")
    events = {
        e["data"]["particle_patient_id"]: e
        for e in map(json.loads, WebhookDelivery.objects.values_list("body", flat=True))
    }
    assert events[partial["particle_patient_id"]]["subject"].startswith("FHIR_R4 Query Complete with Errors")
    assert papi.get(f"/api/v2/patients/{partial['particle_patient_id']}/query").json()["state"] == "PARTIAL"
    assert events[empty["particle_patient_id"]]["data"]["file_count"] == "0"


# ---- faults -----------------------------------------------------------------------------------------


def test_a_failing_query(papi):
    Fault.objects.create(kind="query_fail")
    ppid = register(papi)["particle_patient_id"]
    query_id = submit(papi, ppid)["query_id"]
    advance(query_id, to="finished")
    body = papi.get(f"/api/v2/patients/{ppid}/query").json()
    assert body["state"] == "FAILED" and body["error_message"] and body["files_available"] == 0
    assert json.loads(WebhookDelivery.objects.get(network="particle").body)["data"]["status"] == "FAILED"
    assert papi.get(f"/api/v2/patients/{ppid}/fhir").status_code == 404


def test_api_5xx_and_slow(papi):
    Fault.objects.create(kind="api_5xx")
    assert papi.auth().status_code == 503
    Fault.objects.all().delete()
    papi.token = ""
    Fault.objects.create(kind="api_slow", seconds=0.3)
    started = time.monotonic()
    register(papi)
    assert time.monotonic() - started >= 0.3


def test_drop_and_a_slow_query(papi, completions, django_capture_on_commit_callbacks):
    Fault.objects.create(kind="drop", target="com.particlehealth")
    Fault.objects.create(kind="delay", target="particle-query", seconds=30)
    ppid = register(papi)["particle_patient_id"]
    with django_capture_on_commit_callbacks(execute=True):
        query_id = submit(papi, ppid)["query_id"]
    assert completions[-1] == ([query_id], 33.0)
    advance(query_id, to="finished")
    assert WebhookDelivery.objects.get(network="particle").status == "dropped"


def test_a_persons_faults_come_from_their_metriport_twin(papi, make_patient):
    twin = make_patient(firstName="Kam", lastName="Quark-Nucleus", dob="1954-12-01")
    Fault.objects.create(kind="query_fail", patient_id=twin["id"])
    other = register(papi, {**examples.REGISTER_ELVIRA})
    kam = register(papi)
    advance(submit(papi, kam["particle_patient_id"])["query_id"], to="finished")
    advance(submit(papi, other["particle_patient_id"])["query_id"], to="finished")
    assert papi.get(f"/api/v2/patients/{kam['particle_patient_id']}/query").json()["state"] == "FAILED"
    assert papi.get(f"/api/v2/patients/{other['particle_patient_id']}/query").json()["state"] == "COMPLETE"


# ---- deliveries over real HTTP ------------------------------------------------------------------------


@pytest.fixture
def particle_receiver(settings):
    rec = Receiver()
    settings.SANDBOX_PARTICLE_WEBHOOK_URL = rec.url.replace("metriport", "particle")
    yield rec
    rec.close()


def delivered_event(papi):
    ppid = register(papi)["particle_patient_id"]
    query_id = submit(papi, ppid)["query_id"]
    advance(query_id, to="finished")
    delivery = WebhookDelivery.objects.get(network="particle")
    from sandbox import services

    services.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_deliveries_are_signed_cloudevents_the_portal_accepts(papi, particle_receiver):
    delivery = delivered_event(papi)
    assert delivery.status == "delivered"
    (request,) = particle_receiver.requests
    assert request["path"] == "/webhooks/particle/"
    assert request["headers"]["content-type"] == "application/cloudevents+json"
    event = receive(
        raw=request["raw"],
        content_type=request["headers"]["content-type"],
        signature=request["headers"]["x-ph-signature-256"],
    )
    assert event.id == str(delivery.message_id) and event.phase == "complete"


def test_the_duplicate_fault_delivers_twice_and_failures_wait_for_the_retry(papi, particle_receiver):
    Fault.objects.create(kind="duplicate")
    particle_receiver.status = 500
    delivery = delivered_event(papi)
    assert delivery.status == "failed" and len(particle_receiver.requests) == 2
    particle_receiver.status = 200
    from sandbox import services

    assert services.webhook_retry_failed() == 1
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered"
    bodies = {r["raw"] for r in particle_receiver.requests}
    assert len(bodies) == 1


def test_the_sweeper_finishes_a_lost_completion(papi, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.particle_query_complete, "delay", lambda query_id: sent.append(query_id))
    ppid = register(papi)["particle_patient_id"]
    query_id = submit(papi, ppid)["query_id"]
    ParticleQuery.objects.filter(pk=query_id).update(finish_at=timezone.now() - timedelta(minutes=5))
    assert particle.sweep() == 1 and sent == [query_id]


# ---- results ---------------------------------------------------------------------------------------


def test_results_wait_for_a_finished_query(papi):
    ppid = register(papi)["particle_patient_id"]
    submit(papi, ppid)
    assert papi.get(f"/api/v2/patients/{ppid}/fhir").status_code == 404
    assert papi.get(f"/api/v2/patients/{ppid}/ccda").status_code == 404


def finished(papi, body=None):
    ppid = register(papi, body)["particle_patient_id"]
    advance(submit(papi, ppid)["query_id"], to="finished")
    return ppid


def test_the_fhir_bundle_uses_particles_ids_and_resolves_its_references(papi):
    ppid = finished(papi)
    bundle = json.loads(papi.get(f"/api/v2/patients/{ppid}/fhir").content)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    patient = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert [p["id"] for p in patient] == [ppid]
    others = [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
    assert others and all(HEX64.match(i) for i in others)
    refs = re.findall(r'"reference": ?"([A-Za-z]+/[^"]+)"', json.dumps(bundle))
    assert refs and all(ref in ids for ref in refs)
    assert not any(e["resource"]["resourceType"] == "DocumentReference" for e in bundle["entry"])


def test_the_same_person_gets_overlapping_items_on_both_networks(papi, api, make_patient):
    twin = make_patient(firstName="Kam", lastName="Quark-Nucleus", dob="1954-12-01")
    ppid = finished(papi)
    from sandbox.models import Patient

    metriport = particle.records.patient_bundle(Patient.objects.get(pk=twin["id"]))
    mine = json.loads(papi.get(f"/api/v2/patients/{ppid}/fhir").content)

    def conditions(bundle):
        return {
            (json.dumps(r["code"], sort_keys=True), r.get("onsetDateTime") or r.get("recordedDate"))
            for r in (e["resource"] for e in bundle["entry"])
            if r["resourceType"] == "Condition"
        }

    shared = conditions(mine) & conditions(metriport)
    assert shared and shared == conditions(mine)
    mine_ids = {e["resource"]["id"] for e in mine["entry"]}
    assert not mine_ids & {e["resource"]["id"] for e in metriport["entry"]}


def test_the_ccda_zip_holds_clinical_documents(papi):
    ppid = finished(papi)
    response = papi.get(f"/api/v2/patients/{ppid}/ccda")
    assert response.status_code == 200 and response["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        assert names and all(name.endswith(".xml") for name in names)
        assert all(b"ClinicalDocument" in archive.read(name) for name in names)


def test_norecords_has_an_empty_zip_and_a_bundle_with_only_the_patient(papi):
    ppid = finished(papi, {**examples.REGISTER_KAM, "given_name": "Pat", "family_name": "Norecords"})
    with zipfile.ZipFile(io.BytesIO(papi.get(f"/api/v2/patients/{ppid}/ccda").content)) as archive:
        assert archive.namelist() == []
    bundle = json.loads(papi.get(f"/api/v2/patients/{ppid}/fhir").content)
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} <= {
        "Patient",
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Location",
    }


# ---- the portal's client against the sandbox ------------------------------------------------------------


def test_the_portal_client_walks_the_whole_query(db, settings):
    settings.SANDBOX_PARTICLE_STATUS_404_SECONDS = 60.0
    client = portal_particle.ParticleClient(
        base_url="http://testserver/sandbox/particle",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scope="projects/p1",
        transport=DjangoTransport(),
        tokens=portal_particle.TokenCache(),
    )
    demographics = {
        "firstName": "Kam",
        "lastName": "Quark-Nucleus",
        "dob": "1954-12-01",
        "genderAtBirth": "F",
        "address": [{"addressLine1": "999 Dev Drive", "city": "Brooklyn", "state": "NY", "zip": "11111"}],
    }
    with client:
        registered = client.patient_register(
            patient=portal_particle.patient_from_demographics(demographics=demographics, patient_id="hp-7")
        )
        submitted = client.query_submit(
            particle_patient_id=registered.particle_patient_id, purpose_of_use="TREATMENT", hints={"zip": "11111"}
        )
        with pytest.raises(NetworkTransientError):
            client.query_status(
                particle_patient_id=registered.particle_patient_id,
                query_id=submitted.query_id,
                submitted_at=time.time(),
            )
        advance(submitted.query_id, to="finished")
        state = client.query_status(particle_patient_id=registered.particle_patient_id, query_id=submitted.query_id)
        assert state.phase == "complete" and state.files_available >= 2
        assert json.loads(client.fhir_bundle(particle_patient_id=registered.particle_patient_id))["entry"]
        assert client.ccda_zip(particle_patient_id=registered.particle_patient_id).startswith(b"PK")
        client.patient_delete(particle_patient_id=registered.particle_patient_id)
        with pytest.raises(NetworkPermanentError):
            client.fhir_bundle(particle_patient_id=registered.particle_patient_id)


def test_the_delay_fault_holds_the_cloudevent_back(papi, scheduled, django_capture_on_commit_callbacks):
    Fault.objects.create(kind="delay", seconds=7)
    ppid = register(papi)["particle_patient_id"]
    query_id = submit(papi, ppid)["query_id"]
    with django_capture_on_commit_callbacks(execute=True):
        advance(query_id, to="finished")
    delivery = WebhookDelivery.objects.get(network="particle")
    assert ("webhook_deliver", [delivery.pk], 7.0) in scheduled
