"""A real worker is SIGKILLed in the middle of processing an event: with a short broker visibility
timeout the task is redelivered to a new worker, and its effect (one bundle download, one snapshot)
happens exactly once. Needs PostgreSQL and Redis (CI runs it)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from django.db import connection

from ias import webhooks
from ias.models import NetworkQuery, QuerySource, WebhookEvent
from tests.ias.conftest import verified, wait_for
from tests.ias.fakes import source_event

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def postgres_and_redis(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the crash test needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)")
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the crash test needs Redis: set CELERY_BROKER_URL=redis://... (CI does)")


@pytest.fixture
def bundle_server():
    """A presigned-link stand-in that counts how many times the bundle is downloaded."""
    from sandbox.generator import generate_bundle

    body = orjson.dumps(generate_bundle(seed="crash-test", size=40, demographics={"id": "pat_crash"}))
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/bundle.json", hits
    server.shutdown()


def test_worker_killed_mid_processing_redelivers_and_applies_once(
    postgres_and_redis, mfa_user, bundle_server, start_worker, tmp_path
):
    from records.models import Snapshot

    url, hits = bundle_server
    verified(mfa_user, "pat_crash")
    query = NetworkQuery.objects.create(user=mfa_user, request_id="req_crash", status="processing")
    QuerySource.objects.create(query=query, source_type="hie")
    pause = tmp_path / "paused"
    env = {
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "HOMEPORT_TEST_FAST_RESTORE": "1",
        "IAS_EVENT_LEASE_SECONDS": "2",
        "HOMEPORT_TEST_PAUSE_AFTER_HANDLER": str(pause),
    }
    first = start_worker(env, concurrency=1)
    raw = orjson.dumps(source_event("hie", patient_id="pat_crash", request_id="req_crash", url=url))
    event, created = webhooks.event_store(raw=raw, envelope=webhooks.envelope_read(raw))
    assert created
    assert event is not None

    wait_for(pause.exists, timeout=60)  # the handler has run; the worker now hangs before finishing
    assert len(hits) == 1
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("pending", 1)
    first.kill_all()

    second = start_worker(env, concurrency=1)
    try:
        wait_for(lambda: WebhookEvent.objects.get(pk=event.pk).status != "pending", timeout=90)
    except TimeoutError:
        print(second.log()[-5000:])
        raise
    event.refresh_from_db()
    assert event.status == "processed"
    assert event.attempts == 2  # redelivered and run again ...
    assert len(hits) == 1  # ... but the bundle was fetched once
    assert Snapshot.objects.filter(user=mfa_user, status=Snapshot.STATUS_COMPLETE).count() == 1
    source = QuerySource.objects.get(query=query, source_type="hie")
    assert (source.status, source.records) == ("completed", "fetched")
