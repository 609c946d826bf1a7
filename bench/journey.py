"""Time to records: from the last source's webhook to the record being fully readable, beside the
ingest alone of the same bundle.

A portal (gunicorn) with the sandbox mounted and one real Celery worker run on this machine; the
sandbox's own tasks (its clock and its webhook deliveries) run in a second worker on their own queue,
as the real network runs apart from Homeport. For each size, a person with a network patient of that
record size starts a query for three sources (hie, pharmacy, lab); the sandbox completes them after
its usual delays and delivers its signed webhooks; the worker downloads each linked bundle and
ingests it (or, when a newer one is already waiting, that one in its place). The journey is measured from the
moment the portal stored the last source's `network-query.*` webhook to the moment the query is
settled (every source's records saved, the progress page says complete). The ingest alone is a
first import of that same final bundle, in this process, for another person. Each size runs
`--runs` times (3; each journey a new person), and the ratio is of the medians: median journey /
median ingest alone (target at most 1.5). Every run is printed.

    env -u DATABASE_URL .venv/bin/python bench/journey.py 600 50000          # embedded default
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/homeport_journey \\
        .venv/bin/python bench/journey.py 600 50000                          # PostgreSQL

Without DATABASE_URL it uses a fresh SQLite file and the filesystem broker in a temporary
HOMEPORT_DATA_DIR (the embedded default); with it, the database named there (give it one of its
own: the sandbox's webhook settings in it are pointed at this run's portal) and CELERY_BROKER_URL
if set. `--port` is the portal's port. Prints figures; the last line is one JSON object. Nothing
here asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCES = ("hie", "pharmacy", "lab")


def _wait_ready(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"portal did not come up at {url}")


def _wait_workers(logs: Path, timeout: float = 180) -> None:
    """Until both Celery workers say they are ready: a query started earlier has the sandbox's
    delayed tasks fire late, all at once, and its webhooks arrive bunched instead of seconds apart."""
    deadline = time.monotonic() + timeout
    names = ("worker", "network")
    while time.monotonic() < deadline:
        texts = [(logs / f"journey-{name}.log").read_text(errors="replace") for name in names]
        if all(" ready." in text for text in texts):
            return
        time.sleep(0.3)
    raise SystemExit(f"the Celery workers were not ready within {timeout:g} s")


SANDBOX_QUEUE = "sandbox"


def _start(env: dict, port: int, logs: Path) -> list[subprocess.Popen]:
    """gunicorn (one process, threads: the sandbox's generated record is cached per process), one
    Celery worker for Homeport with the production layout's one pool process, and one for the
    sandbox's own tasks on their queue: the network sends its webhooks on its own clock, not after
    Homeport's work."""
    web = [sys.executable, "-m", "gunicorn", "portal.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"]
    web += ["-k", "gthread", "--threads", "8", "--timeout", "300", "--log-level", "warning"]
    celery = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO"]
    worker = [*celery, "--concurrency", "1", "-Q", "celery", "-n", "homeport@%h"]
    network = [*celery, "--concurrency", "1", "-Q", SANDBOX_QUEUE, "-n", "sandbox@%h"]
    procs = []
    for name, argv in (("web", web), ("worker", worker), ("network", network)):
        procs.append(
            subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=(logs / f"journey-{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        try:
            os.killpg(os.getpgid(proc.pid), signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            proc.kill()


def _person(size: int, base: str):
    """A person whose network patient holds a record of `size` resources, and their started query.

    What `ias.queries.network_query_start` does after the AAL2 check, with the sandbox called in
    this process (the AAL2 and identity steps are not what this measures)."""
    from django.db import transaction

    from accounts.models import User
    from ias.metriport_network import query_status_decode
    from ias.models import NetworkPatient, NetworkQuery, QuerySource
    from ias.network import QUERY_REF_KEY
    from ias.query_state import query_apply_network_status
    from sandbox import services as sandbox_services
    from sandbox.links import link_make
    from sandbox.models import Patient

    tag = uuid.uuid4().hex[:8]
    user = User.objects.create_user(email=f"journey-{tag}@example.com", password=None)
    patient = Patient.objects.create(facility_id="bench", persona="ordinary", record_size=size)
    NetworkPatient.objects.create(user=user, patient_id=patient.id, facility_id="bench")
    # The network generates the record and stores the whole bundle once; fetch it before the clock matters.
    warm = link_make(origin=base, payload={"k": "b", "p": patient.id, "s": list(SOURCES), "f": "json"}, ttl_seconds=600)
    httpx.get(warm, timeout=600).raise_for_status()
    with transaction.atomic():
        query = NetworkQuery.objects.create(user=user, kind=NetworkQuery.Kind.NETWORK)
        QuerySource.objects.bulk_create([QuerySource(query=query, source_type=name) for name in SOURCES])
    network_query = sandbox_services.network_query_start(
        patient=patient,
        purpose="treatment",
        sources=list(SOURCES),
        proofed_identity_id="",
        aal2_session_id="",
        metadata={QUERY_REF_KEY: str(query.public_id)},
        origin=base,
    )
    query_apply_network_status(
        query_id=query.pk, status=query_status_decode(sandbox_services.network_query_json(network_query))
    )
    return user, patient, query.pk


def _wait_settled(query_id: int, timeout: float) -> tuple[float, dict]:
    """Poll until the query is settled; returns (seconds from the last source's webhook, details)."""
    from ias.models import NetworkQuery, WebhookEvent

    deadline = time.monotonic() + timeout
    query = NetworkQuery.objects.get(pk=query_id)
    while time.monotonic() < deadline:
        query = NetworkQuery.objects.get(pk=query_id)
        if query.settled_at is not None:
            break
        time.sleep(0.05)
    if query.settled_at is None:
        raise SystemExit(f"query {query_id} did not settle within {timeout:g} s")
    finals = WebhookEvent.objects.filter(
        request_id=query.request_id, event_type__in=[f"network-query.{s}" for s in SOURCES]
    ).order_by("received_at")
    last = finals.last()
    if last is None:
        raise SystemExit("no source webhook was stored")
    seconds = (query.settled_at - last.received_at).total_seconds()
    statuses = dict(query.sources.values_list("source_type", "records"))
    details = {"last_webhook": last.event_type, "status": query.status, "records": statuses}
    return seconds, {**details, "phases": _phases(query, last.received_at)}


def _phases(query, start) -> dict:
    """When each step after the last source's webhook happened, in seconds from it (negative: before).

    Every webhook's arrival and the end of its processing; for each saved snapshot, when its save
    began (the bundle downloaded and read) and ended, with its download and ingest times; and the
    settle. A run on a shared machine is then compared step by step, not only end to end."""
    from ias.models import WebhookEvent
    from records.models import Snapshot

    def at(moment) -> float | None:
        return None if moment is None else round((moment - start).total_seconds(), 3)

    events = WebhookEvent.objects.filter(request_id=query.request_id).order_by("received_at")
    phases: dict = {
        "webhooks": [
            {"type": e.event_type, "received": at(e.received_at), "processed": at(e.processed_at)} for e in events
        ],
        "snapshots": [],
        "settled": at(query.settled_at),
    }
    for snap in Snapshot.objects.filter(user_id=query.user_id).order_by("started_at"):
        phases["snapshots"].append(
            {
                "source": snap.network_source,
                "status": snap.status,
                "download_ms": snap.download_ms,
                "ingest_ms": snap.ingest_ms,
                "save_began": at(snap.started_at),
                "saved": at(snap.finished_at),
            }
        )
    return phases


def _ingest_alone(patient_id: str, base: str, runs: int) -> dict:
    """First imports of the final bundle (every source), as their own figure: one to warm up (it
    loads what the warm worker already has loaded), then `runs` measured, and their median."""
    from accounts.models import User
    from records.download import bundle_download
    from records.services import record_delete_all, snapshot_ingest_file
    from sandbox.links import link_make

    link = link_make(origin=base, payload={"k": "b", "p": patient_id, "s": list(SOURCES), "f": "json"}, ttl_seconds=600)
    measured: list[float] = []
    for turn in range(runs + 1):
        downloaded = bundle_download(url=link)
        user = User.objects.create_user(email=f"journey-alone-{uuid.uuid4().hex[:8]}@example.com", password=None)
        try:
            started = time.perf_counter()
            snapshot = snapshot_ingest_file(
                user_id=user.pk, path=downloaded.path, network_source="hie", request_id="bench-alone", retire=True
            )
            if turn:
                measured.append(time.perf_counter() - started)
        finally:
            if os.path.exists(downloaded.path):
                os.unlink(downloaded.path)
            record_delete_all(user_id=user.pk)
            user.delete()
    return {
        "resources": snapshot.resource_count,
        "ingest_s": round(statistics.median(measured), 3),
        "runs_s": [round(seconds, 3) for seconds in measured],
    }


def journey_once(size: int, base: str, timeout: float) -> tuple[dict, str]:
    """One person's query for a record of `size`: the time to records, with its steps."""
    from records.models import Snapshot

    user, patient, query_id = _person(size, base)
    journey_s, details = _wait_settled(query_id, timeout)
    snapshots = list(Snapshot.objects.filter(user=user).order_by("started_at"))
    last = snapshots[-1] if snapshots else None
    run = {
        "journey_s": round(journey_s, 3),
        "snapshots": len(snapshots),
        "last_snapshot_download_ms": last.download_ms if last else None,
        "last_snapshot_ingest_ms": last.ingest_ms if last else None,
        **details,
    }
    return run, patient.id


def run_size(size: int, base: str, timeout: float, runs: int) -> dict:
    """`runs` journeys, each a new person, and as many measured imports alone; the ratio is of the
    medians: one journey of a small record is a tenth of a second, within a shared machine's noise."""
    journeys = []
    for _ in range(runs):
        run, patient_id = journey_once(size, base, timeout)
        journeys.append(run)
    alone = _ingest_alone(patient_id, base, runs)
    journey_s = statistics.median(run["journey_s"] for run in journeys)
    ratio = round(journey_s / alone["ingest_s"], 2) if alone["ingest_s"] else None
    return {
        "size": size,
        "resources": alone["resources"],
        "journey_s": round(journey_s, 3),
        "ingest_alone_s": alone["ingest_s"],
        "ratio": ratio,
        "ingest_alone_runs_s": alone["runs_s"],
        "runs": journeys,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[600, 50000])
    parser.add_argument("--port", type=int, default=8151)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for one query to settle")
    parser.add_argument("--runs", type=int, default=3, help="journeys per size, and measured imports alone")
    parser.add_argument("--source-delays", default="hie=2,pharmacy=3,lab=4", help="the sandbox's per-source delays")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    if not os.environ.get("DATABASE_URL"):
        os.environ["HOMEPORT_DATA_DIR"] = tempfile.mkdtemp(prefix="homeport-journey-")
        os.environ.pop("CELERY_BROKER_URL", None)
    base = f"http://127.0.0.1:{args.port}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_BASE_URL": base,
            "METRIPORT_BASE_URL": f"{base}/sandbox",
            "SANDBOX_WEBHOOK_URL": f"{base}/webhooks/metriport/",
            "SANDBOX_SOURCE_DELAY_SECONDS": args.source_delays,
            "SANDBOX_LINK_TTL_SECONDS": "600",
            "SANDBOX_TASK_QUEUE": SANDBOX_QUEUE,
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from sandbox.models import AccountSettings

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    AccountSettings.objects.update(webhook_url=f"{base}/webhooks/metriport/", webhook_enabled=True)
    logs = Path(settings.DATA_DIR) / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    procs = _start(dict(os.environ), args.port, logs)
    results = []
    try:
        _wait_ready(f"{base}/healthz")
        _wait_workers(logs)
        engine = connection.vendor
        broker = settings.CELERY_BROKER_URL.split("://")[0]
        print(f"database={engine} broker={broker} portal={base} (gunicorn, one Celery worker)")
        for size in args.sizes:
            row = run_size(size, base, args.timeout, args.runs)
            results.append(row)
            print(
                f"\n{row['resources']} resources, median of {args.runs}: last source's webhook to record "
                f"readable {row['journey_s']} s; ingest alone {row['ingest_alone_s']} s; ratio {row['ratio']} "
                f"(target <= 1.5)"
            )
            print(f"  ingest alone, each run: {row['ingest_alone_runs_s']} s")
            for number, run in enumerate(row["runs"], 1):
                print(
                    f"  journey {number}: {run['journey_s']} s; {run['snapshots']} snapshots, the last: download "
                    f"{run['last_snapshot_download_ms']} ms, ingest {run['last_snapshot_ingest_ms']} ms; "
                    f"query {run['status']}, records {run['records']}"
                )
                print(f"    phases (s from the last webhook): {json.dumps(run['phases'])}")
            sys.stdout.flush()
    finally:
        _stop(procs)
    print(json.dumps({"benchmark": "journey", "engine": engine, "broker": broker, "results": results}))


if __name__ == "__main__":
    main()
