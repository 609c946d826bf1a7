"""The Celery app as a test worker runs it: `celery -A tests.ias.worker_app worker`.

It is the project's app, with test-only settings read from the environment: its own queue (so
parallel test runs sharing a broker never take each other's messages) and, for the crash test,
fast recovery of unacknowledged messages and a pause in the middle of event processing that the
test ends with SIGKILL.
"""

import os
import time
from pathlib import Path

from portal.celery import app

queue = os.environ.get("HOMEPORT_TEST_QUEUE")
if queue:
    app.conf.task_default_queue = queue

if os.environ.get("HOMEPORT_TEST_FAST_RESTORE"):
    # Sweep for unacknowledged messages past the visibility timeout every second, not every ~100 s.
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

_pause_file = os.environ.get("HOMEPORT_TEST_PAUSE_AFTER_HANDLER")


def _install_pause(**_kwargs):
    """First finish only: tell the test the handler ran, then hang until killed."""
    from ias import webhooks

    finish = webhooks.event_finish

    def finish_after_pause(**kwargs):
        assert _pause_file is not None  # installed only when it is set
        marker = Path(_pause_file)
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            while True:
                time.sleep(1)
        return finish(**kwargs)

    webhooks.event_finish = finish_after_pause


if _pause_file:
    from celery.signals import worker_process_init

    worker_process_init.connect(_install_pause, weak=False)
