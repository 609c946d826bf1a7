"""Transactions whose commit need not wait for the disk.

On PostgreSQL a commit waits until its log record is flushed (an fsync, milliseconds on a busy
disk, at times far more), and the worker's commits queue for the same flushes as every webhook's
acknowledgement. The steps here only record work in progress or bookkeeping: an event's lease and
its own processed mark, a source marked as saving. Visibility to other sessions does not wait for the flush,
and the next commit that does wait (the records' own, the settle) flushes these with it. A crash in
between loses at most these notes: the event is still pending and is processed again, which every
step is built to survive. Records themselves, and a query saying it is settled, commit as usual.
SQLite (synchronous=NORMAL in WAL mode) does not flush on commit at all, so nothing changes there.
A step that is one statement carries the setting in that statement (`unsynced_returning`); one of
several statements opens a transaction for it (`unsynced_atomic`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

# Evaluated in a statement's RETURNING list, once for each row it writes, before its commit. Local to
# the transaction, which outside a transaction block is the statement's own: PostgreSQL reads the
# setting when it commits (RecordTransactionCommit) and resets it only after (AtEOXact_GUC).
UNSYNCED = "set_config('synchronous_commit', 'off', true)"


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


def unsynced_returning(sql: str, returning: str = "") -> str:
    """`sql` (one statement that writes, without a RETURNING clause) returning `returning` (columns,
    or nothing); outside a transaction on PostgreSQL its own commit does not wait for the disk: the
    setting rides in the statement (the extra column `unsynced`) instead of three more round trips
    (BEGIN, SET LOCAL, COMMIT). A statement that writes no row commits nothing to wait for. Inside a
    caller's transaction, and elsewhere, the statement is left as it is."""
    columns = [returning] if returning else []
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        columns.append(f"{UNSYNCED} AS unsynced")
    return f"{sql} RETURNING {', '.join(columns)}" if columns else sql
