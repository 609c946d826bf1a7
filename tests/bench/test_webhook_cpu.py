"""bench/webhook_cpu.py at a tiny size, so that it keeps running: the JSON it ends with, not its times."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_cpu_benchmark_acknowledges_every_delivery_and_prints_its_figures(tmp_path):
    # Nothing of the caller's settings: SQLite, the filesystem broker and the benchmark's own settings.
    others = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_DEBUG")
    env = {k: v for k, v in os.environ.items() if k not in others}
    env["HOMEPORT_DATA_DIR"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "bench/webhook_cpu.py", "-n", "20", "--rounds", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["benchmark"] == "webhook-cpu"
    assert last["database"] == "sqlite"
    # Production's settings, as the README's layout runs: DEBUG off, and no answer a redirect to HTTPS.
    assert last["debug"] is False
    assert set(last["statuses"]) <= {"200", "401"} and sum(last["statuses"].values()) == 40
    assert last["cpu_us_per_ack_min"] > 0
