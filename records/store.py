"""Bulk writes of extracted rows: COPY + one upsert on PostgreSQL, a diff + bulk ORM path elsewhere.

Both paths do the same thing, PostgreSQL inside the caller's transaction, the portable path in
short transactions of WRITE_BATCH rows: insert new resources, update changed
ones (or ones that come back after retirement), leave unchanged ones untouched, retire the ones the
snapshot no longer has, and mark the first row of each group of same items as the primary one.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from django.db import connection, connections, transaction

from records.ingest import COLUMNS, Row
from records.models import NETWORK_DEFAULT, Resource

logger = logging.getLogger(__name__)


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0


_DATA_COLUMNS = [c for c in COLUMNS if c not in ("resource_type", "resource_id")]
# A re-import's rows on PostgreSQL, per connection (a temporary table). Renamed when its columns change:
# a connection kept open across a deploy still holds the old one.
INGEST_TABLE = "records_ingest_rows"
# Rows per transaction on the portable path: one chunk of the parse (records.ingest.CHUNK). SQLite
# has one writer, so each commit is kept short (tens of milliseconds) and other people's requests
# write in between, above all while the next chunk is parsed with no lock held. Fewer, larger commits
# write each index page to the log once per chunk rather than once per 250 rows.
WRITE_BATCH = 2000
# Rows per INSERT on the portable path, largest first; the few rows left over go one by one. One
# statement of many VALUES rows does the work of as many single-row ones without SQLite setting up
# and finishing a statement for each row (that was about 40% of its time). Each statement also gives
# Python's lock to the thread extracting the next chunk, and getting it back waits up to Python's
# switch interval (5 ms): a 50k-resource first import spent 4.2-4.6 s inserting in statements of 100
# rows, 2.8-2.9 s in statements of 1,000. A small record (600 resources) keeps statements of 100: one
# statement of its own size costs SQLite more to prepare than it saves. 1,000 rows of 26 parameters
# stay under SQLite's usual 32,766 (`_rows_per_insert` asks the connection).
ROWS_PER_INSERT = (1000, 100)
# Rows per statement when retiring or re-marking items by id (well under SQLite's 32,766 parameters).
IDS_BATCH = 500
# How long the end of an ingest waits for its background checkpoint to open its connection (seconds).
CHECKPOINT_START_WAIT = 1.0
# When another connection's checkpoint holds SQLite's checkpoint lock (a commit's automatic one that
# began first), the checkpoint after an ingest finds it busy: it tries again after a pause, so that
# what the other one left is copied too.
CHECKPOINT_TRIES = 5
CHECKPOINT_RETRY_SECONDS = 0.1
# The ingest connection's page cache while a first import inserts (KiB, SQLite's negative cache_size): the
# person's index pages stay in memory across chunks instead of being read back from the log.
INGEST_CACHE_KIB = 16 * 1024


def rows_write(
    *,
    user_id: int,
    snapshot_id: int,
    chunks: Iterable[list[Row]],
    now: datetime,
    retire: bool = True,
    network: str = NETWORK_DEFAULT,
) -> WriteCounts:
    """Each row carries the network source its resource names (never the delivering webhook's).

    Ids are the delivering `network`'s: rows are matched and retired within that network only, so a
    bundle from one network never overwrites or retires another network's items."""
    if connection.vendor == "postgresql":
        return _write_postgres(
            user_id=user_id, snapshot_id=snapshot_id, chunks=chunks, now=now, retire=retire, network=network
        )
    with _sqlite_ingest_settings():
        return _write_portable(
            user_id=user_id, snapshot_id=snapshot_id, chunks=chunks, now=now, retire=retire, network=network
        )


@contextmanager
def _sqlite_ingest_settings() -> Iterator[None]:
    """This connection's settings while it writes a bundle on SQLite; other connections keep theirs.

    - No automatic checkpoint: in WAL mode SQLite copies the log into the database (and syncs it)
      whenever the log passes 1000 pages, which most commits of an ingest would pay; it is done
      once, at the end.
    - No CHECK constraints: the only one on the rows written is Django's JSON_VALID on `raw`, which
      would parse every resource's JSON again in SQLite; `raw` is what orjson wrote (always valid
      JSON). Changing this setting makes SQLite recompile its statements, so none prepared while it
      is off runs unchecked afterwards.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint = 0")
        cursor.execute("PRAGMA ignore_check_constraints = ON")
    try:
        yield
    finally:
        checkpoint = wal_checkpoint_in_background()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")
            cursor.execute("PRAGMA wal_autocheckpoint = 1000")
        checkpoint.started.wait(CHECKPOINT_START_WAIT)


class _Checkpoint(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="wal-checkpoint", daemon=True)
        self.started = threading.Event()
        self.result: tuple[int, int, int] | None = None  # SQLite's (busy, frames in the log, frames copied)

    def run(self) -> None:
        try:
            with connections["default"].cursor() as cursor:  # this thread's own connection
                self.started.set()
                for _ in range(CHECKPOINT_TRIES):
                    self.result = wal_checkpoint_passive(cursor)
                    if self.result[0] == 0:
                        break
                    time.sleep(CHECKPOINT_RETRY_SECONDS)
        except Exception:
            logger.warning("WAL checkpoint after an ingest failed; SQLite checkpoints on a later commit")
        finally:
            self.started.set()
            connections.close_all()  # this thread's own


def wal_checkpoint_passive(cursor) -> tuple[int, int, int]:
    """SQLite's (busy, frames in the log, frames copied) for a checkpoint that waits for no one."""
    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    busy, frames, copied = cursor.fetchone()
    return busy, frames, copied


def wal_checkpoint_in_background() -> _Checkpoint:
    """Copy the log an ingest wrote into the database, in a thread on a connection of its own.

    The checkpoint syncs the log (hundreds of MB after a large bundle) and then the database to disk:
    most of a second of waiting on the disk that the save need not wait for. The rows are readable
    from the log meanwhile, and other connections' commits skip their own automatic checkpoint while
    this one holds SQLite's checkpoint lock instead of doing it inside someone's request. One that
    began first (the ingest connection's next commit can) makes this one try again once it is done
    (CHECKPOINT_TRIES). A process that ends first leaves the rest to the next checkpoint (a
    checkpoint is safe to interrupt)."""
    checkpoint = _Checkpoint()
    checkpoint.start()
    return checkpoint


@contextmanager
def _sqlite_first_import_settings() -> Iterator[None]:
    """While a first import inserts on SQLite: a page cache of INGEST_CACHE_KIB (the person's index
    pages stay in memory across chunks), and temporary files in memory (a statement of many rows
    keeps a journal of the pages it changes, which past 64 KB spills to a file on disk). Only for a
    first import: a re-import mostly reads, and these would hold its reads and sorts in memory."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (cache_size,) = cursor.fetchone()
        cursor.execute("PRAGMA temp_store")
        (temp_store,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {-INGEST_CACHE_KIB}")
        cursor.execute("PRAGMA temp_store = MEMORY")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")
            cursor.execute(f"PRAGMA temp_store = {int(temp_store)}")


def _fast_toast(cursor) -> None:
    """Compress large raw JSON with lz4 for this transaction when the server has it: pglz costs the
    server more time than parsing the JSON, and readers decompress either transparently."""
    cursor.execute(
        "SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings"
        " WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
    )


def _write_postgres(*, user_id, snapshot_id, chunks, now, retire, network) -> WriteCounts:
    with connection.cursor() as cursor:
        _fast_toast(cursor)
    if not Resource.objects.filter(user_id=user_id).exists():
        return _copy_first_import(user_id=user_id, snapshot_id=snapshot_id, chunks=chunks, now=now, network=network)
    counts = WriteCounts()
    table = Resource._meta.db_table
    with connection.cursor() as cursor:
        # `raw` is text here: the server parses a resource's JSON into jsonb only when it is written,
        # new or changed, not for each unchanged one a whole record brings again.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {INGEST_TABLE} ("
            " resource_type text, resource_id text, raw text, content_hash text, category text,"
            " code_system text, code text, display text, status text, clinical_date timestamptz,"
            " clinical_date_text text, value_num double precision, value_unit text, flag text,"
            " source_org text, network_source text, encounter_ref text, parent_ref text, dedupe_key text)"
            " ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {INGEST_TABLE}_key ON {INGEST_TABLE} (resource_type, resource_id)")
        cursor.execute(f"TRUNCATE {INGEST_TABLE}")
        total = 0
        with cursor.cursor.copy(f"COPY {INGEST_TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            write_row = copy.write_row
            for chunk in chunks:
                for row in chunk:
                    write_row(row.copy_values())
                total += len(chunk)
        column_list = ", ".join(COLUMNS)
        select_list = ", ".join(f"t.{c}::jsonb" if c == "raw" else f"t.{c}" for c in COLUMNS)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _DATA_COLUMNS)
        # Only rows that are new, changed or coming back after retirement are offered to the upsert
        # (the person's ingest lock keeps anyone else from writing theirs meanwhile); its own WHERE
        # says the same for the rows it does meet.
        cursor.execute(
            f"WITH up AS ("  # noqa: S608 - names are ours, values are parameters
            f" INSERT INTO {table} (user_id, network, {column_list}, is_primary, first_snapshot_id,"
            f"  last_snapshot_id, retired_at, created_at, updated_at)"
            f" SELECT %s, %s, {select_list}, true, %s, %s, NULL, %s, %s FROM {INGEST_TABLE} t"
            f" WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE r.user_id = %s AND r.network = %s"
            f"  AND r.resource_type = t.resource_type AND r.resource_id = t.resource_id"
            f"  AND r.content_hash = t.content_hash AND r.retired_at IS NULL)"
            f" ON CONFLICT (user_id, network, resource_type, resource_id) DO UPDATE SET {updates},"
            f"  last_snapshot_id = EXCLUDED.last_snapshot_id,"
            f"  retired_at = NULL, updated_at = EXCLUDED.updated_at"
            f" WHERE {table}.content_hash <> EXCLUDED.content_hash OR {table}.retired_at IS NOT NULL"
            f" RETURNING (xmax = 0) AS inserted)"
            f" SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up",
            [user_id, network, snapshot_id, snapshot_id, now, now, user_id, network],
        )
        counts.created, counts.updated = cursor.fetchone()
        counts.unchanged = total - counts.created - counts.updated
        if retire:
            cursor.execute(
                f"UPDATE {table} r SET retired_at = %s, updated_at = %s"  # noqa: S608
                f" WHERE r.user_id = %s AND r.network = %s AND r.retired_at IS NULL AND NOT EXISTS ("
                f"  SELECT 1 FROM {INGEST_TABLE} t"
                f"  WHERE t.resource_type = r.resource_type AND t.resource_id = r.resource_id)",
                [now, now, user_id, network],
            )
            counts.retired = cursor.rowcount
        if counts.created or counts.updated or counts.retired:
            cursor.execute(
                f"UPDATE {table} r SET is_primary = m.should"  # noqa: S608
                f" FROM (SELECT id, is_primary, id = min(id) OVER (PARTITION BY dedupe_key) AS should"
                f"  FROM {table} WHERE user_id = %s AND retired_at IS NULL) m"
                f" WHERE r.id = m.id AND m.is_primary <> m.should",
                [user_id],
            )
        cursor.execute(f"TRUNCATE {INGEST_TABLE}")
    return counts


def _copy_first_import(*, user_id, snapshot_id, chunks, now, network) -> WriteCounts:
    """A person's first bundle: COPY straight into the table, the first of each same-item group primary."""
    counts = WriteCounts()
    columns = [
        *COLUMNS,
        "user_id",
        "network",
        "is_primary",
        "first_snapshot_id",
        "last_snapshot_id",
        "created_at",
        "updated_at",
    ]
    primaries: set[str] = set()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {Resource._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        write_row = copy.write_row
        for chunk in chunks:
            for row in chunk:
                values = row.copy_values()
                first = row.dedupe_key not in primaries
                if first:
                    primaries.add(row.dedupe_key)
                values += [user_id, network, first, snapshot_id, snapshot_id, now, now]
                write_row(values)
            counts.created += len(chunk)
    return counts


def _write_portable(*, user_id, snapshot_id, chunks, now, retire, network) -> WriteCounts:
    """Diff against what the person has, then insert and update with prepared parameters: every
    value is converted before a transaction opens, so each short transaction only executes SQL."""
    counts = WriteCounts()
    existing = {
        (kind, rid): (pk, digest, retired is not None)
        for pk, kind, rid, digest, retired in Resource.objects.filter(user_id=user_id, network=network).values_list(
            "pk", "resource_type", "resource_id", "content_hash", "retired_at"
        )
    }
    table = connection.ops.quote_name(Resource._meta.db_table)
    insert_columns = [*COLUMNS, "user_id", "network", "first_snapshot_id", "last_snapshot_id"]
    insert_columns += ["created_at", "updated_at", "is_primary"]
    one_row = f"({', '.join(['%s'] * len(insert_columns))})"
    insert_sql = f"INSERT INTO {table} ({', '.join(insert_columns)}) VALUES "  # noqa: S608 - names are ours
    update_columns = [*_DATA_COLUMNS, "last_snapshot_id", "updated_at"]
    update_sql = (
        f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in update_columns)}, retired_at = NULL"  # noqa: S608
        " WHERE id = %s"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    seen: set[int] = set()
    # A first import marks the first of each same-item group primary as it inserts (ids follow the
    # insertion order), which is what `_mark_primary_portable` would decide afterwards. Same-item
    # groups span networks, so it is a first import only when the person has no item from any network.
    first_import = not existing and not Resource.objects.filter(user_id=user_id).exists()
    primaries: set[str] = set()
    adapted: dict[datetime, str | None] = {}
    with _sqlite_first_import_settings() if first_import else nullcontext():
        for chunk in chunks:
            new, changed = [], []
            for row in chunk:
                found = existing.get((row.resource_type, row.resource_id))
                if found is not None:
                    pk, digest, was_retired = found
                    seen.add(pk)
                    if digest == row.content_hash and not was_retired:
                        counts.unchanged += 1
                        continue
                values = _prepared(row, adapted)
                if found is None:
                    primary = True
                    if first_import:
                        primary = row.dedupe_key not in primaries
                        primaries.add(row.dedupe_key)
                    values += (user_id, network, snapshot_id, snapshot_id, stamp, stamp, primary)
                    new.append(values)
                else:
                    changed.append([*values[2:], snapshot_id, stamp, found[0]])
            _insert_in_batches(insert_sql, one_row, new)
            _execute_in_batches(update_sql, changed)
            counts.created += len(new)
            counts.updated += len(changed)
    if retire:
        stale = [pk for pk, _digest, was_retired in existing.values() if pk not in seen and not was_retired]
        for start in range(0, len(stale), IDS_BATCH):
            counts.retired += Resource.objects.filter(pk__in=stale[start : start + IDS_BATCH]).update(
                retired_at=now, updated_at=now
            )
    if not first_import:
        _mark_primary_portable(user_id=user_id)
    return counts


_DATE_AT = COLUMNS.index("clinical_date")


def _prepared(row: Row, adapted: dict[datetime, str | None]) -> list:
    """The row's values in COLUMNS order as the database takes them (raw JSON stays text); a record
    repeats its dates, so each is adapted once (`adapted` is the ingest's own memo)."""
    values = row.copy_values()
    when = values[_DATE_AT]
    if when is not None:
        text = adapted.get(when)
        if text is None:
            text = adapted[when] = connection.ops.adapt_datetimefield_value(when)
        values[_DATE_AT] = text
    return values


def _rows_per_insert(parameters_per_row: int) -> tuple[int, ...]:
    """The statement sizes of ROWS_PER_INSERT this SQLite takes parameters for, largest first, then 1."""
    getlimit = getattr(connection.connection, "getlimit", None)
    most = getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // parameters_per_row if getlimit else max(ROWS_PER_INSERT)
    return tuple(sorted({max(1, min(size, most)) for size in ROWS_PER_INSERT} | {1}, reverse=True))


def _insert_in_batches(insert_sql: str, one_row: str, params: list[list]) -> None:
    """As `_execute_in_batches`, many rows to a statement: each batch goes in as many statements of the
    largest size as fit, then of the next size, the rest one by one; each size's statement is prepared
    once per ingest. SQLite inserts VALUES rows in their order, so ids still follow the bundle's order.

    Always `executemany`: under DEBUG, Django logs an `execute` with every parameter quoted by SQLite,
    each row's JSON too (a 600-resource import in one `execute` took 0.19 s instead of 0.13 s)."""
    if not params:
        return
    connection.ensure_connection()
    sizes = _rows_per_insert(len(params[0]))
    statements = {size: insert_sql + ", ".join([one_row] * size) for size in sizes}
    with connection.cursor() as cursor:
        for start in range(0, len(params), WRITE_BATCH):
            batch = params[start : start + WRITE_BATCH]
            with transaction.atomic():
                done = 0
                for size in sizes:
                    end = done + (len(batch) - done) // size * size
                    if end > done:
                        groups = [list(chain.from_iterable(batch[at : at + size])) for at in range(done, end, size)]
                        cursor.executemany(statements[size], groups)
                        done = end


def _execute_in_batches(sql: str, params: list[list]) -> None:
    with connection.cursor() as cursor:
        for start in range(0, len(params), WRITE_BATCH):
            with transaction.atomic():
                cursor.executemany(sql, params[start : start + WRITE_BATCH])


def _mark_primary_portable(*, user_id: int) -> None:
    first: dict[str, int] = {}
    rows = list(
        Resource.objects.filter(user_id=user_id, retired_at__isnull=True)
        .order_by("id")
        .values_list("id", "dedupe_key", "is_primary")
    )
    for pk, key, _primary in rows:
        first.setdefault(key, pk)
    flip_on = [pk for pk, key, primary in rows if not primary and first[key] == pk]
    flip_off = [pk for pk, key, primary in rows if primary and first[key] != pk]
    for pks, value in ((flip_on, True), (flip_off, False)):
        for start in range(0, len(pks), IDS_BATCH):
            Resource.objects.filter(pk__in=pks[start : start + IDS_BATCH]).update(is_primary=value)
