"""Fixtures for testing the sandbox as the network the portal talks to."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from portal.celery import app as celery_app
from tests.helpers import totp_now

API_KEY = "sandbox-test-api-key"
WEBHOOK_KEY = "sandbox-test-webhook-key"

DEMOGRAPHICS = {
    "firstName": "Jane",
    "lastName": "Doe",
    "dob": "1968-04-12",
    "genderAtBirth": "F",
    "address": [{"addressLine1": "12 Main St", "city": "Springfield", "state": "IL", "zip": "62704"}],
    "contact": [{"phone": "2175550123", "email": "jane@example.com"}],
    "externalId": "hp-user-1",
}


class Api:
    """The Django test client speaking JSON with the API key, like a network client would."""

    def __init__(self, client: Client, key: str = API_KEY):
        self.client = client
        self.key = key

    def _headers(self, headers):
        out = {"x-api-key": self.key} if self.key else {}
        out.update(headers or {})
        return out

    def get(self, path, *, headers=None, **params):
        return self.client.get(f"/sandbox{path}", params, headers=self._headers(headers))

    def post(self, path, body=None, *, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return self.client.post(
            f"/sandbox{path}", data=data, content_type="application/json", headers=self._headers(headers)
        )

    def put(self, path, body, *, headers=None):
        return self.client.put(
            f"/sandbox{path}",
            data=json.dumps(body),
            content_type="application/json",
            headers=self._headers(headers),
        )

    def delete(self, path, *, headers=None):
        return self.client.delete(f"/sandbox{path}", headers=self._headers(headers))


@pytest.fixture(autouse=True)
def sandbox_settings(settings):
    settings.SANDBOX_API_KEY = API_KEY
    settings.SANDBOX_WEBHOOK_KEY = WEBHOOK_KEY
    settings.SANDBOX_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"
    settings.SANDBOX_FAULTS = []
    settings.SANDBOX_RECORD_SIZE = 300
    settings.SANDBOX_RATE_LIMITS = "patient=1000,query=1000,consolidated=1000"
    settings.SANDBOX_ACCOUNT_SOURCES = ["hie", "pharmacy", "lab"]
    settings.SANDBOX_WEBHOOK_TIMEOUT_SECONDS = 2.0
    return settings


@pytest.fixture(autouse=True)
def scheduled(request, monkeypatch):
    """Sandbox tasks never reach the shared broker from tests: outside `eager` they are recorded here.

    Tests marked `worker` publish for real, to a queue of their own.
    """
    from sandbox import tasks

    calls: list[tuple[str, list, float]] = []
    if request.node.get_closest_marker("worker"):
        return calls
    for name in (
        "network_query_first_data",
        "network_query_source_complete",
        "consolidated_query_complete",
        "document_job_complete",
        "webhook_deliver",
        "sandbox_sweep",
    ):
        task = getattr(tasks, name)
        original = task.apply_async

        def fake(args=None, kwargs=None, countdown=0, _name=name, _original=original, **options):
            if celery_app.conf.task_always_eager:
                return _original(args=args, kwargs=kwargs, countdown=countdown, **options)
            calls.append((_name, list(args or []), countdown))
            return None

        monkeypatch.setattr(task, "apply_async", fake)
    return calls


@pytest.fixture
def api(db):
    return Api(Client())


@pytest.fixture
def eager():
    """Celery runs tasks in the calling thread (for tests about the API, not about delivery)."""
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


@pytest.fixture
def make_patient(api):
    def make(**overrides):
        body = {**DEMOGRAPHICS, **overrides}
        response = api.post("/medical/v1/patient?facilityId=fac_test", body)
        assert response.status_code == 201, response.content
        return response.json()

    return make


class Receiver:
    """A tiny webhook receiver on 127.0.0.1:<free port>, recording every request it gets."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.pong = True
        self.redirect_to = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "raw": raw,
                    }
                )
                if receiver.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                    self.end_headers()
                    return
                body = b"{}"
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = {}
                if isinstance(parsed, dict) and "ping" in parsed:
                    body = json.dumps({"pong": parsed["ping"] if receiver.pong else "wrong"}).encode()
                self.send_response(receiver.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/metriport/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self, type_prefix: str = "") -> list[dict]:
        out = [json.loads(r["raw"]) for r in self.requests]
        return [b for b in out if b["meta"]["type"].startswith(type_prefix)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    rec = Receiver()
    settings.SANDBOX_WEBHOOK_URL = rec.url
    yield rec
    rec.close()


def webhooks(type_prefix: str = "") -> list[dict]:
    """Webhook messages the sandbox stored, oldest first, parsed."""
    from sandbox.models import WebhookDelivery

    rows = WebhookDelivery.objects.filter(type__startswith=type_prefix).order_by("created_at", "id")
    return [json.loads(r.body) for r in rows]


def query_params(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def proofed(api, make_patient):
    """A patient with a verified identity: returns (patient, proofedIdentityId)."""

    def make(**overrides):
        patient = make_patient(**overrides)
        session = api.post(
            "/medical/v1/identity/session",
            {"patientId": patient["id"], "redirectUrl": "http://portal.test/journey/identity/return"},
        ).json()
        path = urlsplit(session["sessionUrl"]).path
        response = api.client.post(path, {"document": "on", "selfie": "on", "outcome": "verified"})
        assert response.status_code == 302, response.content
        detail = api.get(f"/medical/v1/identity/session/{session['sessionId']}").json()
        return patient, detail.get("proofedIdentityId")

    return make


@pytest.fixture
def aal2(api):
    """Pass an AAL2 challenge for a proofed identity, reading the code the way a tester would."""

    def make(identity_id: str) -> str:
        from sandbox.models import ProofedIdentity

        challenge = api.post(
            "/medical/v1/identity/aal2/challenge",
            {"proofedIdentityId": identity_id, "redirectUrl": "http://portal.test/journey/aal2/return"},
        )
        assert challenge.status_code == 201, challenge.content
        path = urlsplit(challenge.json()["challengeUrl"]).path
        secret = ProofedIdentity.objects.get(pk=identity_id).totp_secret
        response = api.client.post(path, {"code": totp_now(secret)})
        assert response.status_code == 302, response.content
        return query_params(response["Location"])["aal2SessionId"]

    return make


@pytest.fixture
def ias_ready(proofed, aal2):
    """(patient, proofedIdentityId, aal2SessionId) ready for an IAS network query."""

    def make(**overrides):
        patient, identity_id = proofed(**overrides)
        return patient, identity_id, aal2(identity_id)

    return make
