"""Page times for one person while another person's large record imports, on the embedded SQLite.

    .venv/bin/python bench/import_while_browsing.py [size]        # default 50000 (Pat Large)

Uses a fresh SQLite file in a temporary HOMEPORT_DATA_DIR (DATABASE_URL must be unset), so it
measures the embedded default that `bin/run` uses. A reader with an ordinary record is signed in
with a second factor; the import runs in a separate process (as the Celery worker does) while the
reader's pages are requested over and over through Django's test client (server time). Prints the
reader's page times before and during the import, the import's own time, and one JSON line.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

_INGEST = """
import django, sys
django.setup()
from records.services import snapshot_ingest_file
snapshot_ingest_file(user_id=int(sys.argv[1]), path=sys.argv[2], network_source="hie", request_id="large", retire=True,
                     keep_bundle=False)
"""


def _figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "requests": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def main(size: int) -> None:
    if os.environ.get("DATABASE_URL"):
        sys.exit("Unset DATABASE_URL: this measures the embedded SQLite default.")
    data_dir = tempfile.mkdtemp(prefix="homeport-bench-")
    os.environ["HOMEPORT_DATA_DIR"] = data_dir
    import django

    django.setup()
    import orjson
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts.models import User
    from records.models import Resource, Snapshot
    from records.services import snapshot_ingest_file
    from sandbox.generator import generate_bundle

    call_command("migrate", interactive=False, verbosity=0)
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    reader = User.objects.create_user(email="reader@example.com", password=None)
    authenticator = TOTP.activate(reader, generate_totp_secret()).instance
    importer = User.objects.create_user(email="pat.large@example.com", password=None)
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(orjson.dumps(generate_bundle(seed="reader", size=600)))
        handle.flush()
        snapshot_ingest_file(user_id=reader.pk, path=handle.name, network_source="hie", retire=True, keep_bundle=False)
    client = Client()
    client.force_login(reader)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": time.time(), "email": reader.email},
        {"method": "mfa", "at": time.time(), "type": "totp", "id": authenticator.pk},
    ]
    session["account_authentication_methods_user"] = str(reader.pk)
    session.save()
    item = Resource.objects.filter(user=reader, category="labs").first()
    if item is None:
        raise SystemExit("The reader's record has no lab result to open.")
    pages = [
        "/",
        "/records/",
        "/records/labs/",
        "/records/conditions/",
        f"/records/item/{item.pk}/",
        f"/records/item/{item.pk}/trend/",
        "/records/timeline/",
        "/records/access/",
        "/records/downloads/",
        "/account/",
    ]

    visits = itertools.count()

    def visit() -> tuple[float, str, int]:
        path = pages[next(visits) % len(pages)]
        before = time.perf_counter()
        status = client.get(path).status_code
        return time.perf_counter() - before, path, status

    for path in pages:  # warm each page once, so the figures are not about first-load work
        client.get(path)

    baseline = [visit() for _ in range(len(pages) * 3)]

    bundle = Path(data_dir) / "large.json"
    started = time.perf_counter()
    bundle.write_bytes(orjson.dumps(generate_bundle(seed="pat-large", size=size, persona="large")))
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    worker = subprocess.Popen(
        [sys.executable, "-c", _INGEST, str(importer.pk), str(bundle)], cwd=ROOT, env=dict(os.environ)
    )
    during: list[tuple[float, str, int]] = []
    while worker.poll() is None:
        during.append(visit())
    import_s = time.perf_counter() - started
    snapshot = Snapshot.objects.filter(user=importer).first()

    errors = Counter(f"{status} {path}" for _t, path, status in baseline + during if status != 200)
    slowest = sorted(during, reverse=True)[:5]
    print(f"SQLite in {data_dir}; reader's pages: {', '.join(pages)}")
    print(f"before the import: {_figures([t for t, _p, _s in baseline])}")
    print(f"during the import: {_figures([t for t, _p, _s in during])}")
    print("slowest during the import: " + ", ".join(f"{path} {t * 1000:.0f} ms" for t, path, _s in slowest))
    print(
        f"import: {snapshot.resource_count if snapshot else 0} resources, status"
        f" {snapshot.status if snapshot else 'none'}, {import_s:.1f} s (bundle generated in {generate_s:.1f} s)"
    )
    print(f"error responses: {dict(errors) or 'none'}")
    print(
        json.dumps(
            {
                "size": size,
                "import_s": round(import_s, 1),
                "imported": snapshot.resource_count if snapshot else 0,
                "before": _figures([t for t, _p, _s in baseline]),
                "during": _figures([t for t, _p, _s in during]),
                "errors": sum(errors.values()),
                "worker_exit": worker.returncode,
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
