"""Writes to a person's record: ingest a fetched bundle as a snapshot, delete everything."""

from __future__ import annotations

import fcntl
import gzip
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import connection, connections, transaction
from django.utils import timezone, translation

from accounts.storage import private_storage
from records import ingest
from records.download import BundlePrefetch, bundle_download
from records.errors import BundleDownloadError, BundleForAnotherPatient, BundleSuperseded
from records.models import NETWORK_DEFAULT, RecordCensus, Resource, Snapshot
from records.selectors import census_count
from records.store import rows_write

logger = logging.getLogger(__name__)


ProgressCallback = Callable[[int], None]
SupersededCheck = Callable[[], bool]


def _counted(chunks: Iterable[list], on_progress: ProgressCallback | None) -> Iterator[list]:
    """Pass chunks through, telling `on_progress` how many resources have gone by so far."""
    seen = 0
    for chunk in chunks:
        yield chunk
        seen += len(chunk)
        if on_progress is not None:
            on_progress(seen)


# Bytes of the bundle read and compressed at a time when it is packed for keeping.
PACK_BLOCK = 2 * 1024 * 1024

# How often a save asks whether a newer copy is waiting (seconds).
SUPERSEDED_EVERY = 0.5


class NewerCopyWatch:
    """Asks `superseded()` every SUPERSEDED_EVERY seconds from a thread of its own while a save runs.

    On PostgreSQL the save streams its rows with COPY, and a connection in the middle of a COPY can
    run nothing else: the question goes over the thread's own connection (on SQLite too, so both
    behave alike), and the save only reads the answer between chunks."""

    def __init__(self, superseded: SupersededCheck) -> None:
        self.superseded = superseded
        self.seen = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="newer-copy-watch", daemon=True)

    def _watch(self) -> None:
        try:
            while not self.stopped.wait(SUPERSEDED_EVERY):
                if self.superseded():
                    self.seen.set()
                    return
        except Exception:
            logger.warning("newer-copy check failed; the save goes on")
        finally:
            connections.close_all()  # this thread's own

    def __enter__(self) -> NewerCopyWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()

    def watched(self, chunks: Iterable[list]) -> Iterator[list]:
        """Pass chunks through; stop with BundleSuperseded once a newer copy was seen waiting."""
        for chunk in chunks:
            if self.seen.is_set():
                raise BundleSuperseded()
            yield chunk


def snapshot_ingest_from_url(
    *,
    user_id: int,
    url: str,
    network_source: str,
    request_id: str,
    retire: bool,
    patient_id: str = "",
    on_progress: ProgressCallback | None = None,
    network: str = NETWORK_DEFAULT,
    superseded: SupersededCheck | None = None,
    prefetched: BundlePrefetch | None = None,
) -> Snapshot:
    """Download a consolidated bundle and ingest it as one snapshot.

    `retire` is the caller's word on whether the bundle is the whole record (resources missing from
    it are retired) or an early partial delivery (nothing is retired).

    `patient_id` is the person's network patient id: a bundle whose Patient is anyone else is
    refused (BundleForAnotherPatient) and the refusal is kept as a failed snapshot.

    `network` names the network that delivered the bundle; its ids never meet another network's.

    The person's ingest lock is taken before the download, so a second delivery waits rather than
    downloading in parallel. Once it is held: a snapshot already completed for the same (person,
    network, request, source) is returned without downloading again (idempotent, also when another
    worker completed it meanwhile), and `superseded()`, the caller's word that a newer whole record is
    waiting (or was saved meanwhile), raises BundleSuperseded with nothing stored: asked before the
    download, during it and once it is in (`bundle_download`), and during the save (see
    `snapshot_ingest_file`).

    `prefetched`, a small bundle's download begun while the caller recorded its event
    (`records.download.BundlePrefetch`), is used in place of downloading when it holds this link
    whole; otherwise the bundle is downloaded here, under the lock, as above.
    Raises BundleLinkExpired (ask the network again) or BundleDownloadError (`.transient` says
    whether to retry); nothing is stored on failure.
    """
    with person_ingest_lock(user_id=user_id):
        done = snapshot_done(user_id=user_id, network=network, request_id=request_id, network_source=network_source)
        if done is not None:
            return done
        if superseded is not None and superseded():
            raise BundleSuperseded()
        return _snapshot_download_and_ingest(
            user_id=user_id,
            url=url,
            network_source=network_source,
            request_id=request_id,
            retire=retire,
            patient_id=patient_id,
            on_progress=on_progress,
            network=network,
            superseded=superseded,
            prefetched=prefetched,
        )


def _snapshot_download_and_ingest(
    *,
    user_id: int,
    url: str,
    network_source: str,
    request_id: str,
    retire: bool,
    patient_id: str,
    on_progress: ProgressCallback | None,
    network: str,
    superseded: SupersededCheck | None,
    prefetched: BundlePrefetch | None = None,
) -> Snapshot:
    downloaded = prefetched.take(url) if prefetched is not None else None
    if downloaded is not None and superseded is not None and superseded():
        os.unlink(downloaded.path)
        raise BundleSuperseded()
    try:
        downloaded = downloaded or bundle_download(url=url, superseded=superseded)
    except BundleDownloadError as exc:
        _snapshot_failed(
            user_id=user_id, network=network, request_id=request_id, network_source=network_source, reason=exc.reason
        )
        raise
    try:
        return snapshot_ingest_file(
            user_id=user_id,
            path=downloaded.path,
            network_source=network_source,
            request_id=request_id,
            retire=retire,
            download_ms=downloaded.elapsed_ms,
            sha256=downloaded.sha256,
            patient_id=patient_id,
            on_progress=on_progress,
            network=network,
            superseded=superseded,
        )
    except BundleForAnotherPatient as exc:
        _snapshot_failed(
            user_id=user_id, network=network, request_id=request_id, network_source=network_source, reason=exc.reason
        )
        raise
    finally:
        os.unlink(downloaded.path)


def snapshot_done(*, user_id: int, network: str, request_id: str, network_source: str) -> Snapshot | None:
    """The completed snapshot of this (person, network, request, source), if one is in."""
    if not request_id:
        return None
    return (
        _snapshots_complete(user_id=user_id, network=network)
        .filter(request_id=request_id, network_source=network_source)
        .first()
    )


def snapshot_in_record(*, user_id: int, network: str) -> Snapshot | None:
    """The copy the person's record now holds for a network: the last one saved. Saves of a person
    run one at a time and an older copy is never saved over a newer one, so the last completed is
    the newest."""
    return _snapshots_complete(user_id=user_id, network=network).first()


def _snapshots_complete(*, user_id: int, network: str):
    """A person's completed snapshots from one network, the last saved first."""
    return Snapshot.objects.filter(user_id=user_id, network=network, status=Snapshot.STATUS_COMPLETE).order_by("-id")


def _snapshot_failed(*, user_id: int, network: str, request_id: str, network_source: str, reason: str) -> None:
    Snapshot.objects.create(
        user_id=user_id,
        network=network,
        request_id=request_id,
        network_source=network_source,
        status=Snapshot.STATUS_FAILED,
        failure_reason=reason[:200],
        finished_at=timezone.now(),
    )


@translation.override("en")  # names stored at ingest are English, the source of truth; pages translate them
def snapshot_ingest_file(
    *,
    user_id: int,
    path: str,
    network_source: str,
    retire: bool,
    request_id: str = "",
    download_ms: int = 0,
    sha256: str = "",
    keep_bundle: bool = True,
    patient_id: str = "",
    on_progress: ProgressCallback | None = None,
    network: str = NETWORK_DEFAULT,
    superseded: SupersededCheck | None = None,
) -> Snapshot:
    """Ingest a bundle file (plain JSON): all of it or none of it.

    PostgreSQL writes it in one transaction (COPY and one upsert). SQLite has one writer at a time,
    so there each chunk commits on its own and other people's sessions and access-log rows get in
    between; a failure removes the rows this snapshot added and marks the snapshot failed.

    With `patient_id`, a bundle that holds anything must hold exactly that Patient (Metriport's
    consolidated bundles carry the Metriport patient id as Patient.id); otherwise nothing is stored.

    `on_progress(count)` is called after each chunk with the resources written so far, so a caller
    can tell the person how far along the save is (it sees counts only, never the resources).

    `network` is the network that delivered the bundle: its ids and references are its own, and
    retiring what the bundle no longer holds touches only that network's items.

    `superseded()` says whether a newer copy of the whole record is waiting (or was saved meanwhile):
    asked once this person's ingest lock is held and about twice a second while the rows are written.
    A yes raises BundleSuperseded: nothing is kept (PostgreSQL rolls its one transaction back; SQLite
    removes the rows this snapshot added, and the snapshot says it was replaced by a newer copy).
    """
    started = time.monotonic()
    bundle_bytes = os.path.getsize(path)
    buffer, entries = ingest.open_bundle(path)
    in_one_transaction = connection.vendor != "sqlite"
    stored_name = ""
    snapshot: Snapshot | None = None
    held = ExitStack()
    try:
        held.enter_context(ingest.collector_paused())
        ingest.pages_release(buffer)
        lookup = ingest.build_lookup(ingest.entries_releasing(entries, buffer))
        lookup.network = network
        if patient_id and entries and lookup.patient_ids != {patient_id}:
            raise BundleForAnotherPatient()
        held.enter_context(person_ingest_lock(user_id=user_id))  # until a failed ingest is undone, below
        packing = held.enter_context(BundlePacking(path)) if keep_bundle else None
        with transaction.atomic() if in_one_transaction else nullcontext():
            with transaction.atomic():
                get_user_model().objects.select_for_update().only("pk").get(pk=user_id)
                if superseded is not None and superseded():
                    raise BundleSuperseded()
                if not in_one_transaction:  # its rows commit in batches: pages count live until the census is new
                    RecordCensus.objects.filter(user_id=user_id).delete()
                snapshot = Snapshot.objects.create(
                    user_id=user_id,
                    network=network,
                    request_id=request_id,
                    network_source=network_source,
                    bundle_sha256=sha256,
                    bundle_bytes=bundle_bytes,
                    download_ms=download_ms,
                )
            stats = ingest.ParseStats()
            now = timezone.now()
            extracted = ingest.releasing(ingest.iter_rows(entries, lookup, stats), buffer)
            # The watch's thread starts first: once the rows-ahead thread parses, holding Python's lock,
            # starting another thread waits for that lock to change hands (5-15 ms on a busy machine).
            watch = held.enter_context(NewerCopyWatch(superseded)) if superseded is not None else None
            with ingest.ChunksAhead(extracted) as ahead:
                chunks = _counted(ahead, on_progress)
                if watch is not None:
                    chunks = watch.watched(chunks)
                counts = rows_write(
                    user_id=user_id,
                    snapshot_id=snapshot.pk,
                    chunks=chunks,
                    now=now,
                    retire=retire,
                    network=network,
                )
            census_refresh(user_id=user_id)
            if packing is not None:
                stored_name = packing.keep(user_id=user_id, snapshot_id=snapshot.pk)
            snapshot.status = Snapshot.STATUS_COMPLETE
            snapshot.bundle_file = stored_name
            snapshot.resource_count = sum(stats.by_type.values())
            snapshot.skipped_count = stats.skipped + stats.duplicates
            snapshot.created_count = counts.created
            snapshot.updated_count = counts.updated
            snapshot.unchanged_count = counts.unchanged
            snapshot.retired_count = counts.retired
            snapshot.counts_by_type = dict(stats.by_type.most_common())
            snapshot.counts_by_source = dict(stats.by_source.most_common(50))
            snapshot.finished_at = timezone.now()
            snapshot.ingest_ms = int((time.monotonic() - started) * 1000)
            snapshot.save()
    except Exception as exc:
        if stored_name:
            private_storage().delete(stored_name)
        if snapshot is not None and not in_one_transaction:
            _snapshot_undo(
                snapshot=snapshot,
                reason="replaced by a newer copy" if isinstance(exc, BundleSuperseded) else "ingest failed",
            )
        raise
    finally:
        held.close()
        del entries
        if hasattr(buffer, "close"):
            # A failed ingest's traceback may still hold slices of the map; it is freed with them.
            with suppress(BufferError):
                buffer.close()
        ingest.heap_return_after(bundle_bytes)
    logger.info(
        "records snapshot %s ingested: %s resources, %s new, %s changed, %s retired, %s ms",
        snapshot.pk,
        snapshot.resource_count,
        counts.created,
        counts.updated,
        counts.retired,
        snapshot.ingest_ms,
    )
    return snapshot


# Which people this thread holds the ingest lock of: taking it again inside is a no-op.
_locks_held = threading.local()

# PostgreSQL advisory locks are keyed by two integers: this one says "a person's ingest".
_ADVISORY_NAMESPACE = 0x4850


@contextmanager
def person_ingest_lock(*, user_id: int) -> Iterator[None]:
    """One ingest at a time per person, held from before the download to the end of the save.

    Two sources' webhooks for the same person arrive seconds apart. Whoever waits does so before
    downloading, then finds out what the first saved (the same delivery, or an older copy than one
    still waiting) and does no work it would throw away. On SQLite, whose ingest commits in short
    batches, it also stops both from finding an item new and inserting it twice.

    PostgreSQL: a session advisory lock; SQLite (the embedded default runs on one machine): a lock
    file per person. Either is released if the worker dies. Re-entrant within a thread.
    """
    held: set[int] = _locks_held.__dict__.setdefault("users", set())
    if user_id in held:
        yield
        return
    held.add(user_id)
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, int(user_id)])
            try:
                yield
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, int(user_id)])
            return
        folder = Path(settings.DATA_DIR) / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"ingest-{int(user_id)}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        held.discard(user_id)


def snapshot_clinical_count(*, snapshot: Snapshot) -> int:
    """Resources in a snapshot other than the Patient itself: zero means the sources found nothing."""
    return sum(count for kind, count in (snapshot.counts_by_type or {}).items() if kind != "Patient")


def census_refresh(*, user_id: int) -> RecordCensus:
    """Count the person's current items once (see `RecordCensus`), after every change to them."""
    census, _ = RecordCensus.objects.update_or_create(
        user_id=user_id, defaults={"groups": census_count(user_id=user_id), "counted_at": timezone.now()}
    )
    return census


def _snapshot_undo(*, snapshot: Snapshot, reason: str) -> None:
    """A chunked ingest that stopped: drop the rows it added and say why the snapshot did not complete."""
    with transaction.atomic():
        Resource.objects.filter(user_id=snapshot.user_id, first_snapshot_id=snapshot.pk).delete()
        census_refresh(user_id=snapshot.user_id)
        Snapshot.objects.filter(pk=snapshot.pk).update(
            status=Snapshot.STATUS_FAILED, failure_reason=reason, finished_at=timezone.now()
        )


class BundlePacking:
    """Gzips the bundle file for keeping (see `keep`) in a thread of its own while the save parses and
    writes: zlib lets go of Python's lock while it compresses, so with a second core the copy kept for
    replay no longer lengthens the save (compressing it in line had been about a tenth of a first
    import). Leaving the block stops the thread and drops what it packed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.packed = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        self.error: BaseException | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._pack, name="bundle-pack", daemon=True)

    def _pack(self) -> None:
        try:
            with (
                open(self.path, "rb") as source,
                gzip.GzipFile(fileobj=self.packed, mode="wb", compresslevel=1) as zipped,
            ):
                while not self.stopped.is_set():
                    block = source.read(PACK_BLOCK)
                    if not block:
                        break
                    zipped.write(block)
        except BaseException as exc:  # handed to `keep`, which raises it in the saving thread
            self.error = exc

    def __enter__(self) -> BundlePacking:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.packed.close()

    def keep(self, *, user_id: int, snapshot_id: int) -> str:
        """Wait for the packing, then store it encrypted at rest; returns the stored name."""
        self.thread.join()
        if self.error is not None:
            raise self.error
        self.packed.seek(0)
        return private_storage().save(f"records/bundles/{user_id}/{snapshot_id}.json.gz", File(self.packed))


def record_delete_all(*, user_id: int) -> dict[str, int]:
    """Remove every record row, snapshot and stored bundle of a person; returns counts only."""
    storage = private_storage()
    with transaction.atomic():
        names = list(
            Snapshot.objects.filter(user_id=user_id).exclude(bundle_file="").values_list("bundle_file", flat=True)
        )
        resources, _ = Resource.objects.filter(user_id=user_id).delete()
        RecordCensus.objects.filter(user_id=user_id).delete()
        snapshots, _ = Snapshot.objects.filter(user_id=user_id).delete()
    files = 0
    for name in names:
        if storage.exists(name):
            storage.delete(name)
            files += 1
    return {"resources": resources, "snapshots": snapshots, "bundle_files": files}
