"""Putting work on the broker: the one way to enqueue after commit, and the one backoff.

Publishing never retries and never raises: when the broker is down the row stays as it is and the
sweeper (`ias.sweeper`) enqueues it again later, so a broker outage loses nothing.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from typing import Any

from django.db import transaction

log = logging.getLogger(__name__)

# Each thread's producer, with the process it was made in (a forked child makes its own).
producers = threading.local()


def producer_for(app: Any) -> Any:
    """This thread's producer for `app`, on a broker connection of its own, made on first use.

    Celery would otherwise take a producer from its pool and give it back on every publish, and
    the pool's producer opens its channel again each time it is taken (a sixth of a publish's
    Python calls). A process forked from this one makes its own: a connection is never shared
    across processes. `send_quietly` drops it when a publish fails, so the next one reconnects."""
    cached = getattr(producers, "current", None)
    if cached is not None and cached[0] == os.getpid() and cached[1] is app:
        return cached[2]
    producer = app.amqp.Producer(app.connection_for_write(), auto_declare=False)
    producers.current = (os.getpid(), app, producer)
    return producer


def producer_drop() -> None:
    """Forget this thread's producer and release its connection (quietly: it may be broken)."""
    cached = getattr(producers, "current", None)
    producers.current = None
    if cached is not None and cached[0] == os.getpid():
        try:
            cached[2].connection.release()
        except Exception as exc:
            log.info("broker connection not closed cleanly: %s", type(exc).__name__)


def send_quietly(task: Any, **kwargs: Any) -> bool:
    """Publish now, without retrying; False when the broker could not take it.

    Three things Celery would redo on every publish are spared: taking a producer from its pool
    (see `producer_for`), the arguments' safe repr, which the worker only logs (here: ids, whose
    repr is short), and the queue's declaration, which nothing needs on the default exchange (the
    message goes straight to the queue's key or folder, and the consuming worker declares its
    queues itself)."""
    try:
        task.apply_async(
            kwargs=kwargs,
            retry=False,
            argsrepr="()",
            kwargsrepr=repr(kwargs),
            declare=[],
            producer=producer_for(task.app),
        )
    except Exception as exc:
        producer_drop()
        log.warning("could not enqueue %s: %s", task.name, type(exc).__name__)
        return False
    return True


def enqueue_after_commit(task: Any, **kwargs: Any) -> None:
    """Publish once the current transaction commits (at once outside one), so the task sees the rows."""
    transaction.on_commit(lambda: send_quietly(task, **kwargs))


def backoff_seconds(attempt: int, *, base: float = 5.0, cap: float = 600.0) -> float:
    """Exponential backoff with full jitter around the exponential step."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return step * random.uniform(0.5, 1.5)


def retry_in(exc: BaseException, attempt: int) -> float:
    """When to retry a task: the network's own hint (`retry_after`) when it gave one, else the backoff."""
    hint = getattr(exc, "retry_after", None)
    if isinstance(hint, int | float) and hint:
        return hint + random.uniform(0, 5)
    return backoff_seconds(attempt)
