"""Transactions whose commit need not wait for the disk.

On PostgreSQL a commit waits until its log record is flushed (an fsync, milliseconds on a busy
disk, at times far more), and the worker's commits queue for the same flushes as every webhook's
acknowledgement. The steps here only record work in progress or bookkeeping: an event's lease and
its own processed mark, a source marked as saving. Visibility to other sessions does not wait for the flush,
and the next commit that does wait (the records' own, the settle) flushes these with it. A crash in
between loses at most these notes: the event is still pending and is processed again, which every
step is built to survive. Records themselves, and a query saying it is settled, commit as usual.
SQLite (synchronous=NORMAL in WAL mode) does not flush on commit at all, so nothing changes there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


def unsynced() -> None:
    """Let the current transaction's commit return before its log reaches the disk (PostgreSQL)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@contextmanager
def unsynced_atomic() -> Iterator[None]:
    """A transaction that commits without waiting for the disk on PostgreSQL; elsewhere its
    statements run as they would without it (autocommitted one by one)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        unsynced()
        yield
