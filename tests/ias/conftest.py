"""Fixtures for the ias tests: a faked network, people at each journey step, a stubbed ingest."""

from __future__ import annotations

import contextlib

import pytest

from ias import metriport
from records.models import Snapshot
from tests.ias.fakes import FakeNetwork, install


@pytest.fixture
def network():
    fake = FakeNetwork()
    install(fake)
    yield fake
    metriport.use_transport(None)


# The sandbox's per-source delays in the browser journeys (seconds).
DELAYS = {"hie": 1.0, "pharmacy": 1.5, "lab": 2.0}


@pytest.fixture
def portal_on_live_server(live_server, settings):
    """Point the portal, the network client and the sandbox's webhooks at the live server."""
    base = live_server.url
    settings.PORTAL_BASE_URL = base
    settings.METRIPORT_BASE_URL = f"{base}/sandbox"
    settings.SANDBOX_WEBHOOK_URL = f"{base}/webhooks/metriport/"
    settings.SANDBOX_SOURCE_DELAY_SECONDS = DELAYS
    settings.SANDBOX_CONSOLIDATED_DELAY_SECONDS = 0.5
    return {
        "PORTAL_BASE_URL": base,
        "METRIPORT_BASE_URL": f"{base}/sandbox",
        "SANDBOX_WEBHOOK_URL": f"{base}/webhooks/metriport/",
        "SANDBOX_SOURCE_DELAY_SECONDS": ",".join(f"{k}={v}" for k, v in DELAYS.items()),
        "SANDBOX_CONSOLIDATED_DELAY_SECONDS": "0.5",
    }


def saved_snapshot(**counts_by_type: int) -> Snapshot:
    """What a finished ingest returns (unsaved): by default a record with one lab result."""
    return Snapshot(counts_by_type=counts_by_type or {"Patient": 1, "Observation": 1})


@pytest.fixture
def ingested(monkeypatch):
    """Stub the records ingest: each call's data is recorded (its `superseded` check, a callable, is
    kept apart in `.checks`, and the event's prefetched download in `.prefetches`); set `.fail` to an
    exception to raise it once."""
    calls: list[dict] = []

    class Stub:
        fail: list[BaseException] = []
        calls: list[dict]
        checks: list
        prefetches: list

        def __call__(self, **kwargs):
            self.checks.append(kwargs.pop("superseded", None))
            self.prefetches.append(kwargs.pop("prefetched", None))
            if self.fail:
                raise self.fail.pop(0)
            calls.append(kwargs)
            return saved_snapshot()

    stub = Stub()
    stub.calls = calls
    stub.checks = []
    stub.prefetches = []
    monkeypatch.setattr("ias.delivery.records_ingest_from_url", stub)
    return stub


@pytest.fixture
def no_enqueue(monkeypatch):
    """Record what would be sent to the broker instead of sending it."""
    sent: list[tuple[str, dict]] = []

    def fake_apply_async(self, args=None, kwargs=None, **options):
        sent.append((self.name, kwargs or {}))

    monkeypatch.setattr("celery.app.task.Task.apply_async", fake_apply_async)
    return sent


def consented(user):
    from django.conf import settings

    from accounts.services import consent_record

    consent_record(user=user, notice_version=settings.PRIVACY_NOTICE_VERSION, ip="127.0.0.1")
    return user


def linked(user, patient_id="pat_known"):
    from ias.models import NetworkPatient

    consented(user)
    return NetworkPatient.objects.create(user=user, patient_id=patient_id, facility_id="fac_test")


def verified(user, patient_id="pat_known"):
    from django.utils import timezone

    from ias.models import IdentityVerification

    link = linked(user, patient_id)
    IdentityVerification.objects.create(
        user=user,
        session_id=f"ids_{patient_id}",
        status="verified",
        proofed_identity_id=f"pid_{patient_id}",
        verified_at=timezone.now(),
    )
    return link


def aal2_passed(user):
    from django.utils import timezone

    from ias.models import Aal2Challenge, IdentityVerification

    identity = IdentityVerification.objects.get(user=user, status="verified")
    return Aal2Challenge.objects.create(
        user=user,
        challenge_id=f"aalc_{user.pk}_{timezone.now().timestamp()}",
        proofed_identity_id=identity.proofed_identity_id,
        status="verified",
        aal2_session_id="aal2_ok",
        verified_at=timezone.now(),
    )


# --- a real Celery worker against the test database -------------------------------------------


def _worker_database_url() -> str:
    """The URL of the database the test is using right now (the test database, not the dev one)."""
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{params['NAME']}"
    from urllib.parse import quote

    user = quote(params.get("USER") or "")
    password = f":{quote(params['PASSWORD'])}" if params.get("PASSWORD") else ""
    host = params.get("HOST") or "127.0.0.1"
    port = f":{params['PORT']}" if params.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{params['NAME']}"


class WorkerProcess:
    def __init__(self, process, log_path, queue):
        self.process = process
        self.log_path = log_path
        self.queue = queue

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill_all(self):
        """SIGKILL the whole worker (main process and pool children): nothing gets to ack or clean up."""
        import os
        import signal as _signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(self.process.pid), _signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, sig=None):
        import signal as _signal

        if self.process.poll() is None:
            self.process.send_signal(sig or _signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except Exception:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def start_worker(tmp_path, settings):
    """Start `celery -A tests.ias.worker_app worker` on the current test database.

    Use with `django_db(transaction=True)` (the worker sees only committed rows). `env` adds or
    overrides environment variables, e.g. PORTAL_BASE_URL for a live server. The worker consumes its
    own queue, and this process publishes to it for as long as the fixture is active.
    """
    import os
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from portal.celery import app

    started: list[WorkerProcess] = []
    queue = f"test-{uuid.uuid4().hex[:12]}"
    old_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    old_options = dict(app.conf.broker_transport_options or {})

    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        folder = (settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)

    def start(env: dict | None = None, *, concurrency: int = 2, pool: str = "prefork") -> WorkerProcess:
        full_env = dict(os.environ)
        full_env.update(
            {
                "DATABASE_URL": _worker_database_url(),
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                "HOMEPORT_TEST_QUEUE": queue,
                "PRIVATE_STORAGE_ROOT": str(settings.PRIVATE_STORAGE_ROOT),
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "PYTHONUNBUFFERED": "1",
            }
        )
        full_env.pop("DJANGO_TEST_DB_NAME", None)
        full_env.update(env or {})
        log_path = tmp_path / f"worker-{len(started)}.log"
        root = Path(__file__).resolve().parents[2]
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.ias.worker_app",
                "worker",
                "-Q",
                queue,
                "--concurrency",
                str(concurrency),
                "--pool",
                pool,
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"{queue}-{len(started)}@%h",
            ],
            cwd=root,
            env=full_env,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = WorkerProcess(process, log_path, queue)
        started.append(worker)
        wait_for(lambda: "ready." in worker.log() or process.poll() is not None, timeout=60)
        if process.poll() is not None:
            raise RuntimeError(f"worker exited early:\n{worker.log()[-4000:]}")
        return worker

    yield start
    for worker in started:
        worker.stop()
    app.conf.task_default_queue = old_queue
    app.conf.broker_transport_options = old_options


def wait_for(predicate, *, timeout: float = 30, every: float = 0.2):
    """Poll until `predicate()` is truthy; returns its value or raises TimeoutError (not a time assert)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(every)


class DeliveryClock:
    """`ias.delivery`'s monotonic clock, moved on by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> DeliveryClock:
    fake = DeliveryClock()
    monkeypatch.setattr("ias.delivery.monotonic", fake)
    return fake
