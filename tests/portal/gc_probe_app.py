"""The Celery app as a worker runs it, with one probe: each pool process, as it starts, writes how
many objects it inherited frozen from the worker and how many a full collection would walk."""

import gc
import os
from pathlib import Path

from celery.signals import worker_process_init

from portal.celery import app

__all__ = ["app"]


def _report(**_kwargs):
    Path(os.environ["HOMEPORT_TEST_GC_REPORT"]).write_text(f"{gc.get_freeze_count()} {len(gc.get_objects())}")


worker_process_init.connect(_report, weak=False)
