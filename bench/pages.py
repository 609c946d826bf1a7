"""Server time and SQL query count of every records page for a person with 50,000 resources.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hp_records .venv/bin/python bench/pages.py [size]

Builds the person from the sandbox generator (once per run), signs in with a second factor, then
requests each page REPEAT times (default 20; `--repeat N`) through Django's test client after one
unmeasured warm-up request, and reports the median and the 95th percentile of the server time and the
number of SQL queries. Prints a table and ends with one JSON line.

The CPU columns are this process's CPU time per request (`time.process_time`: Django, templates and
the driver, not the database server's work): on a machine shared with other work, wall times move
with the neighbours and CPU time much less.

The process serves its pages as a web process does: no test environment (whose template
instrumentation copies every rendered template's context onto the response and so keeps each page's
data alive until a full garbage collection), and with what it loaded at start set aside from the
garbage collector once the data is built, as `portal/wsgi.py` does (`startup_objects_freeze`).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def main(size: int, repeat: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    import orjson
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import User
    from portal.startup import startup_objects_freeze
    from records.models import Resource
    from records.services import record_delete_all, snapshot_ingest_file
    from sandbox.generator import generate_bundle

    settings.ALLOWED_HOSTS = ["testserver"]
    user = User.objects.create_user(email=f"bench-pages-{time.time_ns()}@example.com", password=None)
    TOTP.activate(user, generate_totp_secret())
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as handle:
            handle.write(orjson.dumps(generate_bundle(seed="bench-pages", size=size)))
            handle.flush()
            snapshot = snapshot_ingest_file(
                user_id=user.pk,
                path=handle.name,
                network_source="hie",
                request_id="bench",
                retire=True,
                keep_bundle=False,
            )
        table = Resource._meta.db_table
        with connection.cursor() as cursor:
            # The steady state autovacuum keeps: the other benchmarks delete hundreds of thousands of
            # rows, whose dead index entries make the planner's probes of an index's ends take
            # milliseconds per query until a vacuum clears them (autovacuum gets there minutes later).
            cursor.execute(f"VACUUM (ANALYZE) {table}" if connection.vendor == "postgresql" else f"ANALYZE {table}")
        startup_objects_freeze()
        client = Client()
        client.force_login(user)
        session = client.session
        now = time.time()
        session["account_authentication_methods"] = [
            {"method": "password", "at": now},
            {"method": "mfa", "at": now, "type": "totp"},
        ]
        session["account_authentication_methods_user"] = str(user.pk)
        session.save()
        mine = Resource.objects.filter(user=user, is_primary=True)
        lab = mine.filter(category="labs", value_num__isnull=False).order_by("-clinical_date").first()
        report = mine.filter(resource_type="DiagnosticReport").first()
        encounter = mine.filter(resource_type="Encounter").first()
        if lab is None or report is None or encounter is None:
            raise SystemExit("The generated record has no lab result, report or visit to open.")
        pages = [
            ("summary", reverse("records:summary")),
            ("timeline", reverse("records:timeline")),
            ("access history", reverse("records:access_history")),
            ("downloads", reverse("records:downloads")),
        ]
        pages += [
            (c, reverse("records:category", args=[c]))
            for c in (
                "conditions",
                "medications",
                "allergies",
                "immunizations",
                "labs",
                "vitals",
                "procedures",
                "encounters",
                "documents",
            )
        ]
        pages += [
            ("labs page 50", reverse("records:category", args=["labs"]) + "?page=50"),
            ("labs abnormal", reverse("records:category", args=["labs"]) + "?flag=abnormal&sort=name"),
            ("trend", reverse("records:trend", args=[lab.pk])),
            ("item (lab)", reverse("records:item", args=[lab.pk])),
            ("item (report)", reverse("records:item", args=[report.pk])),
            ("item (visit)", reverse("records:item", args=[encounter.pk])),
            ("print", reverse("records:print")),
        ]
        results: list[dict[str, Any]] = []
        print(f"{snapshot.resource_count} resources for one person on {connection.vendor}\n")
        print(
            f"{'page':<16} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'queries':>8}"
            f" {'cpu median':>11} {'cpu p95':>8}"
        )
        for name, url in pages:
            times, cpu_times, queries = [], [], 0
            client.get(url)
            for _ in range(repeat):
                with CaptureQueriesContext(connection) as ctx:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    response = client.get(url)
                    times.append((time.perf_counter() - started) * 1000)
                    cpu_times.append((time.process_time() - cpu_started) * 1000)
                assert response.status_code == 200, (name, response.status_code)
                queries = len(ctx.captured_queries)
            row = {
                "page": name,
                "median_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 95), 1),
                "max_ms": round(max(times), 1),
                "queries": queries,
                "cpu_median_ms": round(statistics.median(cpu_times), 1),
                "cpu_p95_ms": round(percentile(cpu_times, 95), 1),
            }
            results.append(row)
            print(
                f"{name:<16} {row['median_ms']:>10} {row['p95_ms']:>8} {row['max_ms']:>8} {queries:>8}"
                f" {row['cpu_median_ms']:>11} {row['cpu_p95_ms']:>8}"
            )
    finally:
        record_delete_all(user_id=user.pk)
        user.delete()
    print(
        json.dumps(
            {
                "benchmark": "records-pages",
                "resources": snapshot.resource_count,
                "pages": results,
                "repeat": repeat,
                "max_median_ms": max(r["median_ms"] for r in results),
                "max_p95_ms": max(r["p95_ms"] for r in results),
                "max_queries": max(r["queries"] for r in results),
                "max_cpu_median_ms": max(r["cpu_median_ms"] for r in results),
                "max_cpu_p95_ms": max(r["cpu_p95_ms"] for r in results),
            }
        )
    )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    repeat_count = 20
    if "--repeat" in arguments:
        at = arguments.index("--repeat")
        repeat_count = int(arguments[at + 1])
        del arguments[at : at + 2]
    main(int(arguments[0]) if arguments else 50000, repeat_count)
