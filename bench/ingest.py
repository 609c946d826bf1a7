"""Ingest speed and memory: Homeport's ingest beside the floor and a full fhir.resources parse.

Each measurement runs in a fresh subprocess so that its peak RSS is its own. Bundles come from the
sandbox generator and are handed over gzipped, as the network serves them. Homeport's figure is a
person's first import (gunzip, then COPY straight into the table) and then a second import of the
same bundle (temp table + upsert, nothing changes). The floor, on PostgreSQL, is the least any
ingest of these rows must do: gunzip, parse, and COPY the same rows (the same column values Homeport
extracts, computed before its clock starts) into a scratch table with the columns and indexes of
`records_resource`. Homeport's share of the floor is the ratio printed. Run on PostgreSQL:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hp_records .venv/bin/python bench/ingest.py [sizes...]

`--no-pydantic` leaves out the fhir.resources parse (it takes the longest).

Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_rss_mb() -> float:
    """This process's own high-water mark (VmHWM; ru_maxrss would carry the parent's over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _gunzip_to_file(path: str) -> str:
    """The plain bundle in a temporary file, as the downloader leaves it."""
    with gzip.open(path, "rb") as source, tempfile.NamedTemporaryFile(suffix=".json", delete=False) as target:
        shutil.copyfileobj(source, target, 1 << 20)
        return target.name


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def child_homeport(path: str, count: int) -> dict:
    _django()
    from django.db import connection

    from accounts.models import User
    from records.services import record_delete_all, snapshot_ingest_file
    from records.terminology import code_sets_preload

    code_sets_preload()  # as the Celery worker does before its pool forks: not part of an ingest
    user = User.objects.create_user(email=f"bench-{time.time_ns()}@example.com", password=None)
    baseline = _peak_rss_mb()
    plain = ""
    try:
        started = time.perf_counter()
        plain = _gunzip_to_file(path)
        first = snapshot_ingest_file(
            user_id=user.pk, path=plain, network_source="hie", request_id="bench-1", retire=True
        )
        first_s = time.perf_counter() - started
        os.unlink(plain)
        started = time.perf_counter()
        plain = _gunzip_to_file(path)
        second = snapshot_ingest_file(
            user_id=user.pk, path=plain, network_source="hie", request_id="bench-2", retire=True
        )
        second_s = time.perf_counter() - started
        assert second.created_count == 0 and second.updated_count == 0
    finally:
        if plain and os.path.exists(plain):
            os.unlink(plain)
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


def child_floor(path: str, count: int) -> dict:
    """Gunzip, parse and COPY the same rows into a scratch copy of the table; nothing else."""
    _django()
    from django.db import connection, transaction

    from accounts.models import User
    from records import ingest
    from records.models import Resource

    if connection.vendor != "postgresql":
        return {"error": "the floor is measured on PostgreSQL only"}
    plain = _gunzip_to_file(path)
    try:
        buffer, entries = ingest.open_bundle(plain)
        lookup = ingest.build_lookup(entries)
        stats = ingest.ParseStats()
        extracted = {
            (row.resource_type, row.resource_id): row.copy_values()[3:]
            for chunk in ingest.iter_rows(entries, lookup, stats)
            for row in chunk
        }
        del entries, buffer
    finally:
        os.unlink(plain)
    user = User.objects.create_user(email=f"bench-floor-{time.time_ns()}@example.com", password=None)
    table, scratch = Resource._meta.db_table, "bench_floor_resource"
    # The columns Homeport's first import writes (records.store), the network and snapshot ids too.
    columns = [*ingest.COLUMNS, "user_id", "network", "is_primary", "first_snapshot_id", "last_snapshot_id"]
    columns += ["created_at", "updated_at"]
    baseline = _peak_rss_mb()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
            cursor.execute(
                f"CREATE TABLE {scratch} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY"
                " INCLUDING CONSTRAINTS INCLUDING INDEXES)"
            )
        started = time.perf_counter()
        with gzip.open(path, "rb") as handle:
            bundle = orjson.loads(handle.read())
        now = datetime.now(UTC)
        written = 0
        copy_sql = f"COPY {scratch} ({', '.join(columns)}) FROM STDIN"
        with transaction.atomic(), connection.cursor() as cursor:
            # The same TOAST compression Homeport's ingest asks for, so the floor writes the same bytes.
            cursor.execute(
                "SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings"
                " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
            )
            with cursor.cursor.copy(copy_sql) as copy:
                for entry in bundle["entry"]:
                    resource = entry["resource"]
                    key = (resource["resourceType"], resource["id"])
                    rest = extracted.pop(key, None)
                    if rest is None:  # a row Homeport skips (invalid or repeated) is not written here either
                        continue
                    values = [*key, orjson.dumps(resource).decode(), *rest, user.pk, "metriport", True, 1, 1, now, now]
                    copy.write_row(values)
                    written += 1
        elapsed = time.perf_counter() - started
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
        user.delete()
    return {
        "resources": written,
        "import_s": round(elapsed, 3),
        "per_s": round(written / elapsed),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "baseline_rss_mb": round(baseline, 1),
    }


def child_fhir_resources(path: str, count: int) -> dict:
    from fhir.resources.R4B.bundle import Bundle

    baseline = _peak_rss_mb()
    started = time.perf_counter()
    with gzip.open(path, "rb") as handle:
        data = handle.read()
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


def main(sizes: list[int], *, with_pydantic: bool) -> None:
    import orjson

    from sandbox.generator import generate_bundle

    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    results = []
    for size in sizes:
        bundle = generate_bundle(seed="bench", size=size)
        count = len(bundle["entry"])
        with tempfile.NamedTemporaryFile(suffix=".json.gz", delete=False) as handle:
            handle.write(gzip.compress(orjson.dumps(bundle), compresslevel=6))
            path = handle.name
        megabytes = len(orjson.dumps(bundle)) / 1e6
        gz_megabytes = os.path.getsize(path) / 1e6
        del bundle
        try:
            homeport = _run_child("homeport", path, count)
            floor = _run_child("floor", path, count)
            pydantic = _run_child("fhir_resources", path, count) if with_pydantic else {}
        finally:
            os.unlink(path)
        ratio = (
            round(homeport["first_import_per_s"] / floor["per_s"], 3)
            if homeport.get("first_import_per_s") and floor.get("per_s")
            else None
        )
        results.append(
            {
                "size": count,
                "bundle_mb": round(megabytes, 1),
                "gzip_mb": round(gz_megabytes, 1),
                "homeport": homeport,
                "floor": floor,
                "homeport_share_of_floor": ratio,
                "fhir_resources_r4b": pydantic,
            }
        )
        print(f"\n{count} resources ({megabytes:.1f} MB, {gz_megabytes:.1f} MB gzipped)")
        print(
            f"  Homeport first import : {homeport.get('first_import_per_s')} resources/s "
            f"({homeport.get('first_import_s')} s), peak RSS {homeport.get('peak_rss_mb')} MB "
            f"(Django loaded: {homeport.get('baseline_rss_mb')} MB) on {homeport.get('engine')}"
        )
        print(
            f"  Homeport re-import    : {homeport.get('reimport_per_s')} resources/s ({homeport.get('reimport_s')} s)"
        )
        print(
            f"  floor (gunzip+parse+COPY): {floor.get('per_s')} resources/s ({floor.get('import_s')} s) "
            f"{floor.get('error') or ''}"
        )
        if ratio is not None:
            print(f"  Homeport / floor      : {ratio:.0%}")
        if with_pydantic:
            print(
                f"  fhir.resources R4B    : {pydantic.get('per_s')} resources/s ({pydantic.get('parse_s')} s), "
                f"peak RSS {pydantic.get('peak_rss_mb')} MB {pydantic.get('error') or ''}"
            )
        sys.stdout.flush()
    print(json.dumps({"benchmark": "records-ingest", "results": results}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, path, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        children = {"homeport": child_homeport, "floor": child_floor, "fhir_resources": child_fhir_resources}
        print(json.dumps(children[kind](path, count)))
    else:
        args = [a for a in sys.argv[1:] if a != "--no-pydantic"]
        main([int(s) for s in args] or [1000, 20000, 50000], with_pydantic="--no-pydantic" not in sys.argv)
