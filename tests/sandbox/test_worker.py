"""The whole network query over real HTTP with a real Celery worker process delivering the webhooks."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.sandbox import contract
from tests.sandbox.conftest import API_KEY, DEMOGRAPHICS, WEBHOOK_KEY, Api

BASE_DIR = Path(django_settings.BASE_DIR)


def database_url() -> str:
    db = django_settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(settings, receiver):
    queue = f"sandbox-test-{uuid.uuid4().hex[:10]}"
    settings.SANDBOX_TASK_QUEUE = queue
    settings.SANDBOX_SOURCE_DELAY_SECONDS = "hie=0.5,pharmacy=1,lab=1.5"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SANDBOX_TASK_QUEUE": queue,
        "SANDBOX_API_KEY": API_KEY,
        "SANDBOX_WEBHOOK_URL": receiver.url,
        "SANDBOX_WEBHOOK_KEY": WEBHOOK_KEY,
        "SANDBOX_RECORD_SIZE": "300",
        "DB_CONN_MAX_AGE": "0",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-Q",
            queue,
            "--pool",
            "solo",
            "-l",
            "warning",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for(predicate, timeout: float = 45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_query_and_delivers_signed_webhooks(receiver, worker):
    from sandbox.models import Aal2Session, IdentitySession, Patient, ProofedIdentity

    http = Api(Client())
    patient = http.post("/medical/v1/patient?facilityId=fac_test", DEMOGRAPHICS).json()
    session = IdentitySession.objects.create(
        patient=Patient.objects.get(pk=patient["id"]),
        redirect_url="http://portal.test/r",
        expires_at="2999-01-01T00:00Z",
    )
    identity = ProofedIdentity.objects.create(patient=session.patient, session=session, totp_secret="JBSWY3DPEHPK3PXP")
    challenge = identity.challenges.create(redirect_url="http://portal.test/r", expires_at="2999-01-01T00:00Z")
    aal2 = Aal2Session.objects.create(identity=identity, challenge=challenge, expires_at="2999-01-01T00:00Z")

    response = http.post(
        f"/medical/v1/network/query?patientId={patient['id']}&purposeOfUse=ias",
        {"sources": ["hie", "pharmacy", "lab"], "proofedIdentityId": identity.id},
        headers={"x-aal2-session": aal2.id},
    )
    assert response.status_code == 200
    request_id = response.json()["requestId"]

    assert wait_for(lambda: len(receiver.requests) >= 4), [r["raw"][:80] for r in receiver.requests]
    types = [json.loads(r["raw"])["meta"]["type"] for r in receiver.requests]
    assert sorted(types) == sorted(
        ["network-query.hie.first-data-ready", "network-query.hie", "network-query.pharmacy", "network-query.lab"]
    )
    for got in receiver.requests:
        assert (
            got["headers"]["x-metriport-signature"]
            == hmac.new(WEBHOOK_KEY.encode(), got["raw"], hashlib.sha256).hexdigest()
        )
        assert got["headers"]["user-agent"] == "Metriport API"
    last = next(
        json.loads(r["raw"]) for r in receiver.requests if json.loads(r["raw"])["meta"]["type"] == "network-query.lab"
    )
    contract.check_network_query(last, "lab", "completed")
    bundle = json.loads(http.client.get(urlsplit(last["payload"]["consolidatedDataUrl"]).path).content)
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) > 1
    assert http.get(f"/medical/v1/network/query/{request_id}").json()["status"] == "completed"
