"""bench/ingest.py at a tiny size, so that it keeps running: Homeport's figures and, on PostgreSQL,
the floor beside them (the JSON it ends with, not its times)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def bench_database_url() -> str:
    """A database of the benchmark's own next to the suite's (the benchmark migrates and writes it)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"{parts.path.lstrip('/') or 'homeport'}_benchcheck"
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def run_bench(env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "bench/ingest.py", "200", "--no-pydantic"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_ingest_benchmark_prints_homeport_beside_its_floor(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["HOMEPORT_DATA_DIR"] = str(tmp_path)
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    if on_postgres:
        env["DATABASE_URL"] = bench_database_url()
    last = run_bench(env)
    assert last["benchmark"] == "records-ingest"
    [row] = last["results"]
    assert row["size"] == 200
    assert row["homeport"]["resources"] == 200 and row["homeport"]["first_import_per_s"] > 0
    if on_postgres:
        assert not row["floor"].get("error"), row["floor"]
        assert row["floor"]["resources"] == 200 and row["floor"]["per_s"] > 0
        assert isinstance(row["homeport_share_of_floor"], float)
    else:
        assert row["floor"]["error"] == "the floor is measured on PostgreSQL only"
        assert row["homeport_share_of_floor"] is None
