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
            "--runs",
            "2",
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
    for figure in ("journey_s", "ingest_alone_s", "ratio"):
        assert isinstance(row[figure], float) and row[figure] > 0
    assert len(row["runs"]) == 2 and len(row["ingest_alone_runs_s"]) == 2
    assert row["journey_s"] == round(sum(run["journey_s"] for run in row["runs"]) / 2, 3)  # the median of two
    assert "ratio" in next(line for line in out.stdout.splitlines() if "median of 2" in line)
    for run in row["runs"]:
        assert run["status"] == "completed"
        assert set(run["records"]) == {"hie", "pharmacy", "lab"}
        assert set(run["records"].values()) <= {"fetched", "skipped"}  # an older bundle arriving late is skipped
        assert run["last_webhook"].startswith("network-query.")
        phases = run["phases"]
        assert phases["settled"] == run["journey_s"]
        assert 0.0 in [webhook["received"] for webhook in phases["webhooks"]]
        assert all(snap["saved"] is not None for snap in phases["snapshots"] if snap["status"] == "complete")
