"""bench/journey.py at a tiny size, so that it keeps running: the JSON it ends with, not its times."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.worker

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_journey_benchmark_reports_every_figure():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    out = subprocess.run(
        [
            sys.executable,
            "bench/journey.py",
            "40",
            "--port",
            str(_free_port()),
            "--source-delays",
            "hie=0.2,pharmacy=0.3,lab=0.4",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["benchmark"] == "journey"
    assert last["engine"] == "sqlite"
    assert last["broker"] == "filesystem"
    [row] = last["results"]
    assert row["size"] == 40
    assert row["resources"] > 0
    assert row["status"] == "completed"
    assert set(row["records"]) == {"hie", "pharmacy", "lab"}
    assert set(row["records"].values()) <= {"fetched", "skipped"}  # an older bundle arriving late is skipped
    assert row["last_webhook"].startswith("network-query.")
    for figure in ("journey_s", "ingest_alone_s", "ratio"):
        assert isinstance(row[figure], float) and row[figure] > 0
    assert "ratio" in out.stdout.splitlines()[-4]
    phases = row["phases"]
    assert phases["settled"] == row["journey_s"]
    assert 0.0 in [webhook["received"] for webhook in phases["webhooks"]]
    assert all(snapshot["saved"] is not None for snapshot in phases["snapshots"] if snapshot["status"] == "complete")
