"""Ingest speed and memory: Homeport's ingest against a full fhir.resources (R4B, pydantic) parse.

Each measurement runs in a fresh subprocess so that its peak RSS is its own. Bundles come from the
sandbox generator. Homeport's figure is a person's first import (COPY straight into the table) and
then a second import of the same bundle (temp table + upsert, nothing changes). Run on PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hp_records .venv/bin/python bench/ingest.py [sizes...]

Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_rss_mb() -> float:
    """This process's own high-water mark (VmHWM; ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_homeport(path: str, count: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection

    from accounts.models import User
    from records.services import record_delete_all, snapshot_ingest_file

    user = User.objects.create_user(email=f"bench-{time.time_ns()}@example.com", password=None)
    baseline = _peak_rss_mb()
    try:
        started = time.perf_counter()
        first = snapshot_ingest_file(user_id=user.pk, path=path, network_source="hie", request_id="bench-1")
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = snapshot_ingest_file(user_id=user.pk, path=path, network_source="hie", request_id="bench-2")
        second_s = time.perf_counter() - started
        assert second.created_count == 0 and second.updated_count == 0
    finally:
        record_delete_all(user_id=user.pk)
        user.delete()
    return {
        "engine": connection.vendor,
        "resources": first.resource_count,
        "first_import_s": round(first_s, 3),
        "first_import_per_s": round(first.resource_count / first_s),
        "reimport_s": round(second_s, 3),
        "reimport_per_s": round(second.resource_count / second_s),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "baseline_rss_mb": round(baseline, 1),
    }


def child_fhir_resources(path: str, count: int) -> dict:
    from fhir.resources.R4B.bundle import Bundle

    baseline = _peak_rss_mb()
    data = Path(path).read_bytes()
    started = time.perf_counter()
    error = ""
    try:
        bundle = Bundle.model_validate_json(data)
        parsed = len(bundle.entry or [])
    except Exception as exc:  # report, do not hide: some generated data may not validate
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        parsed = 0
    elapsed = time.perf_counter() - started
    return {
        "resources": parsed,
        "parse_s": round(elapsed, 3),
        "per_s": round(count / elapsed) if not error else None,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "baseline_rss_mb": round(baseline, 1),
        "error": error,
    }


def _run_child(kind: str, path: str, count: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, path, str(count)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=1800,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1][:200] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(sizes: list[int]) -> None:
    import orjson

    from sandbox.generator import generate_bundle

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    results = []
    for size in sizes:
        bundle = generate_bundle(seed="bench", size=size)
        count = len(bundle["entry"])
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            handle.write(orjson.dumps(bundle))
            path = handle.name
        megabytes = os.path.getsize(path) / 1e6
        del bundle
        try:
            homeport = _run_child("homeport", path, count)
            pydantic = _run_child("fhir_resources", path, count)
        finally:
            os.unlink(path)
        results.append(
            {"size": count, "bundle_mb": round(megabytes, 1), "homeport": homeport, "fhir_resources_r4b": pydantic}
        )
        print(f"\n{count} resources ({megabytes:.1f} MB)")
        print(
            f"  Homeport first import : {homeport.get('first_import_per_s')} resources/s "
            f"({homeport.get('first_import_s')} s), peak RSS {homeport.get('peak_rss_mb')} MB "
            f"(Django loaded: {homeport.get('baseline_rss_mb')} MB) on {homeport.get('engine')}"
        )
        print(
            f"  Homeport re-import    : {homeport.get('reimport_per_s')} resources/s ({homeport.get('reimport_s')} s)"
        )
        print(
            f"  fhir.resources R4B    : {pydantic.get('per_s')} resources/s ({pydantic.get('parse_s')} s), "
            f"peak RSS {pydantic.get('peak_rss_mb')} MB {pydantic.get('error') or ''}"
        )
        sys.stdout.flush()
    print(json.dumps({"benchmark": "records-ingest", "results": results}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, path, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        result = child_homeport(path, count) if kind == "homeport" else child_fhir_resources(path, count)
        print(json.dumps(result))
    else:
        main([int(s) for s in sys.argv[1:]] or [1000, 20000, 50000])
