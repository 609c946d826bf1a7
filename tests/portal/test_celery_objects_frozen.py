"""The worker sets what it loaded aside from the garbage collector before its pool forks, so a full
collection in the process that runs the tasks walks only what the tasks made, not every module,
model and code table (100-300 ms, in the middle of a person's journey)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from portal.celery import ObjectsFreeze, app

ROOT = Path(settings.BASE_DIR)


def test_the_worker_blueprint_has_the_freeze_step():
    assert ObjectsFreeze in app.steps["worker"]


def test_the_pool_process_inherits_the_loaded_objects_frozen(tmp_path):
    report = tmp_path / "gc-report"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")},
        "HOMEPORT_DATA_DIR": str(tmp_path),
        "CODE_SETS_DIR": str(settings.CODE_SETS_DIR),
        "HOMEPORT_TEST_GC_REPORT": str(report),
    }
    argv = [sys.executable, "-m", "celery", "-A", "tests.portal.gc_probe_app", "worker"]
    argv += ["--pool", "prefork", "--concurrency", "1", "-Q", f"gc-probe-{os.getpid()}", "--loglevel", "WARNING"]
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        deadline = time.monotonic() + 120
        while not (report.exists() and report.read_text()) and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert report.exists(), log.read_text(errors="replace")[-2000:]
        frozen, walked = map(int, report.read_text().split())
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert frozen > 50_000
    assert walked < frozen // 10
