"""The bridge to records: fetch a linked bundle into the person's record (skipping older ones), and ask
the network for the whole record again when a link expired or never came.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable
from datetime import datetime
from time import monotonic
from typing import TYPE_CHECKING

import msgspec
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from ias.commits import unsynced_returning
from ias.models import (
    NetworkPatient,
    NetworkQuery,
    QuerySource,
)
from ias.network import (
    IDENTITY_NETWORK,
    NetworkPermanentError,
    NetworkTransientError,
    network_for,
)
from ias.query_state import query_bind_request_id, query_settle
from ias.selectors import SAVING_COUNT_KEY

if TYPE_CHECKING:
    from records.download import BundlePrefetch

log = logging.getLogger(__name__)


def records_saving_note(*, user_id: int, count: int | None) -> None:
    """Publish (or clear, with None) the running save's count; a shared cache, so no database lock."""
    key = SAVING_COUNT_KEY.format(user_id=user_id)
    with contextlib.suppress(Exception):
        if count is None:
            caches["progress"].delete(key)
        else:
            caches["progress"].set(key, count, timeout=3600)


def bundle_prefetch_start(*, bundle: LinkedBundle, link: NetworkPatient) -> BundlePrefetch | None:
    """Begin fetching a small linked bundle while its event is recorded (see records' BundlePrefetch);
    hand it to `bundle_fetch`, and `discard()` it once the event is done (a no-op once it was used).

    None when the copy noted as saved already makes this one pointless (the event processed again
    after its save, or a newer copy saved): the save then downloads nothing, as it never did. A copy
    that the save hands over to a newer one still waiting is fetched ahead for nothing and dropped."""
    if _saved_already(bundle, link.last_ingested_data_at, link.last_ingested_message_id):
        return None
    from records.download import bundle_prefetch

    return bundle_prefetch(bundle.url)


# A save's count is published once it has run this long. The progress page asks every 2 s, so a
# shorter save is over before a count could be read; not publishing it spares a small record's save
# two writes to the shared cache and the clearing after them, all on the way to its records.
SAVING_COUNT_AFTER_SECONDS = 1.0


def records_ingest_from_url(
    *,
    user_id: int,
    url: str,
    network_source: str,
    request_id: str,
    patient_id: str,
    network: str = "metriport",
    superseded: Callable[[], bool] | None = None,
    prefetched: BundlePrefetch | None = None,
):
    """The one door from ias into records' ingest (records sits below ias); it publishes the count saved so far
    once the save has run for SAVING_COUNT_AFTER_SECONDS.
    A consolidated link is the whole record as of its time, so what it no longer holds is retired (within
    the delivering `network`: ids are that network's own)."""
    from records.services import snapshot_ingest_from_url

    # A count left by a save that died is not this one's. Clearing a count that is not there writes nothing.
    records_saving_note(user_id=user_id, count=None)
    began = monotonic()
    published = False

    def progress(count: int) -> None:
        nonlocal published
        if published or monotonic() - began >= SAVING_COUNT_AFTER_SECONDS:
            records_saving_note(user_id=user_id, count=count)
            published = True

    try:
        return snapshot_ingest_from_url(
            user_id=user_id,
            url=url,
            network_source=network_source,
            request_id=request_id,
            patient_id=patient_id,
            retire=True,
            network=network,
            on_progress=progress,
            superseded=superseded,
            prefetched=prefetched,
        )
    finally:
        if published:
            records_saving_note(user_id=user_id, count=None)


class LinkedBundle(msgspec.Struct, frozen=True, kw_only=True):
    """One event's link to the whole record as of `data_at`, and what its snapshot is filed under."""

    url: str
    data_at: datetime
    message_id: str
    network_source: str
    request_id: str


NewerBundle = Callable[[datetime], "LinkedBundle | None"]


def _saved_already(bundle: LinkedBundle, data_at: datetime | None, message_id: str) -> bool:
    """Whether the newest copy saved (`data_at`, `message_id`) makes saving `bundle` pointless: it is
    newer, or it is this very copy."""
    return data_at is not None and (
        bundle.data_at < data_at or (bundle.data_at == data_at and bundle.message_id == message_id)
    )


# How long a save's "no newer copy" stands. `bundle_fetch` looks just before a save, and the save asks
# before its download, once the download is in and as its rows begin: for a small record, all within
# milliseconds. Within this time the answer is the last one, without reading the database again; a
# newer copy that arrives meanwhile is found by the next ask, or saved by its own event after this save.
NEWER_COPY_ASK_SECONDS = 0.05


def _superseded(
    *, link_id: int, bundle: LinkedBundle, newer: NewerBundle | None, looked_at: float = -math.inf
) -> Callable[[], bool]:
    """The save's question to ask while it waits, downloads and writes: stop, because a newer copy
    waits for its own event, or because a copy at least as new was saved meanwhile. The second is
    another worker's save that finished while this one waited for the person's lock: its event is
    no longer waiting, so only the note of the newest copy saved tells of it. A "no" stands for
    NEWER_COPY_ASK_SECONDS. `looked_at` is when the caller itself last found no newer copy waiting
    and none saved (the `monotonic()` before it asked): that "no" is the save's first."""
    last_no = looked_at

    def check() -> bool:
        nonlocal last_no
        asked_at = monotonic()
        if asked_at - last_no < NEWER_COPY_ASK_SECONDS:
            return False
        if newer is not None and newer(bundle.data_at) is not None:
            return True
        noted = (
            NetworkPatient.objects.filter(pk=link_id)
            .values_list("last_ingested_data_at", "last_ingested_message_id")
            .first()
        )
        if noted is not None and _saved_already(bundle, *noted):
            return True
        last_no = asked_at
        return False

    return check


# How many times one event hands its save over to a newer copy before it saves what it has: the sandbox's
# query links four copies (hie's first data, hie, pharmacy, lab), so the first event can reach the last.
HANDOVERS_MAX = 3


def bundle_fetch(
    *,
    user_id: int,
    bundle: LinkedBundle,
    newer: NewerBundle | None = None,
    prefetched: BundlePrefetch | None = None,
) -> tuple[str, int]:
    """Ingest a linked consolidated bundle unless a newer one is already in.

    Returns (a Records value, resources saved). Each link is the WHOLE record as of `data_at`, so an
    older bundle arriving late is skipped (order independence), also when the newer one was saved by
    another worker while this one waited for the person's lock, and the same event processed twice
    ingests once. A bundle holding only the Patient is "empty": the sources found nothing.

    `newer(after)` names a newer linked bundle still waiting for its own event to be processed. When
    there is one, this event saves that copy instead (filed under that event's request and source, so
    its own event finds it saved): with three sources answering seconds apart, a large record is
    then saved once or twice, not once per source, and every source still says "done" only once the
    records it brought are in. `prefetched`, the event's own link fetched ahead, is used when the copy
    saved is that link's (not after a handover to a newer copy)."""
    from records.errors import BundleDownloadError, BundleLinkExpired, BundleSuperseded
    from records.services import person_ingest_lock

    # The person's lock, which records takes for the save, is held until the copy saved is noted as the
    # newest: another worker's save, waiting for it, then finds the note and does not put an older copy
    # over it.
    with person_ingest_lock(user_id=user_id):
        link = NetworkPatient.objects.get(user_id=user_id, network=IDENTITY_NETWORK)
        handovers = 0
        while True:
            if _saved_already(bundle, link.last_ingested_data_at, link.last_ingested_message_id):
                return _saved_answer(
                    user_id=user_id, network=link.network, bundle=bundle, noted=link.last_ingested_message_id
                )
            # Once newer copies have taken over HANDOVERS_MAX times, the copy in hand is saved without looking further.
            looking = newer if handovers < HANDOVERS_MAX else None
            looked_at = monotonic()
            ahead = looking(bundle.data_at) if looking is not None else None
            if ahead is not None:
                # One handover, whether the newer copy was found before a save or stopped one (BundleSuperseded).
                bundle, handovers = ahead, handovers + 1
                continue
            try:
                snapshot = records_ingest_from_url(
                    user_id=user_id,
                    url=bundle.url,
                    network_source=bundle.network_source,
                    request_id=bundle.request_id,
                    patient_id=link.patient_id or "",
                    network=link.network,
                    # The look just above, and the note read under the person's lock (which no other
                    # save changes while it is held), are the save's first "no".
                    superseded=_superseded(link_id=link.pk, bundle=bundle, newer=looking, looked_at=looked_at),
                    prefetched=prefetched,
                )
                break
            except BundleSuperseded:
                # A newer copy waiting is taken over above, as one handover; one saved meanwhile skips this one.
                link.refresh_from_db(fields=["last_ingested_data_at", "last_ingested_message_id"])
                continue
            except BundleLinkExpired:
                return QuerySource.Records.AWAITING, 0
            except BundleDownloadError as exc:
                if exc.transient:
                    raise
                log.warning("bundle for request %s could not be ingested: %s", bundle.request_id, exc.reason)
                return QuerySource.Records.FAILED, 0
        newest_saved_note(link_id=link.pk, bundle=bundle)
    return _records_brought(snapshot)


def _records_brought(snapshot) -> tuple[str, int]:
    """A saved copy's answer: "empty" when it held only the Patient, else "fetched" and how many."""
    from records.services import snapshot_clinical_count

    clinical = snapshot_clinical_count(snapshot=snapshot)
    if clinical == 0:
        return QuerySource.Records.EMPTY, 0
    return QuerySource.Records.FETCHED, clinical


def _saved_answer(*, user_id: int, network: str, bundle: LinkedBundle, noted: str) -> tuple[str, int]:
    """The answer for a copy not saved again: when it is this very copy that was saved (the event
    processed again, or a copy another event saved in its place), what its own snapshot brought, so
    an empty record never reads as saved; otherwise a newer copy was saved, and the record holds what
    that copy brought: "skipped" when it holds records, "empty" when the newer copy held none (the
    older copy's records are no longer in the record, so the source must not read as saved)."""
    from records.services import snapshot_clinical_count, snapshot_done, snapshot_in_record

    if bundle.message_id == noted:
        snapshot = snapshot_done(
            user_id=user_id, network=network, request_id=bundle.request_id, network_source=bundle.network_source
        )
        if snapshot is not None:
            return _records_brought(snapshot)
    newest = snapshot_in_record(user_id=user_id, network=network)
    if newest is not None and snapshot_clinical_count(snapshot=newest) == 0:
        return QuerySource.Records.EMPTY, 0
    return QuerySource.Records.SKIPPED, 0


def newest_saved_note(*, link_id: int, bundle: LinkedBundle) -> None:
    """Note the copy just saved as the newest, never an older one over a newer: one conditional UPDATE.

    Its commit does not wait for the disk (`ias.commits`). The records were committed, flushed, before
    it; a crash that loses this note loses everything committed after it too (the source's mark, the
    event's), so the event is processed again and saves the same copy again, which adds nothing."""
    db = connections[DEFAULT_DB_ALIAS]
    data_at = NetworkPatient._meta.get_field("last_ingested_data_at").get_db_prep_save(bundle.data_at, db)
    with db.cursor() as cursor:
        cursor.execute(unsynced_returning(newest_saved_statement()), [data_at, bundle.message_id, link_id, data_at])


@functools.cache
def newest_saved_statement() -> str:
    """The note's conditional UPDATE, built once per process."""
    q = connections[DEFAULT_DB_ALIAS].ops.quote_name
    at, message = q("last_ingested_data_at"), q("last_ingested_message_id")
    return (
        f"UPDATE {q(NetworkPatient._meta.db_table)} SET {at} = %s, {message} = %s"  # noqa: S608 - names are ours
        f" WHERE {q('id')} = %s AND ({at} IS NULL OR {at} <= %s)"
    )


MAX_CONSOLIDATED_PER_QUERY = 3


def consolidated_query_start(*, user_id: int, parent_id: int | None = None) -> NetworkQuery | None:
    """Ask for the consolidated record again (an expired link or a lost webhook); its webhook finishes."""
    link = NetworkPatient.objects.filter(user_id=user_id, network=IDENTITY_NETWORK, patient_id__isnull=False).first()
    if link is None:
        return None
    if parent_id and (
        NetworkQuery.objects.filter(parent_id=parent_id, kind=NetworkQuery.Kind.CONSOLIDATED).count()
        >= MAX_CONSOLIDATED_PER_QUERY
    ):
        return None
    query = NetworkQuery.objects.create(
        user_id=user_id, kind=NetworkQuery.Kind.CONSOLIDATED, parent_id=parent_id, network=link.network
    )
    try:
        network = network_for(link.network)
        answer = network.records_request(patient_id=str(link.patient_id), query_ref=str(query.public_id))
    except (NetworkTransientError, NetworkPermanentError):
        query.delete()
        raise
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query.pk)
        query = query_bind_request_id(query, answer.request_id)
        if query.status == NetworkQuery.Status.STARTING:
            query.status = NetworkQuery.Status.PROCESSING
        query.started_at = query.started_at or answer.started_at or timezone.now()
        query.last_activity_at = timezone.now()
        query.save()
    return query


def consolidated_result_apply(*, query_id: int, outcome: str) -> None:
    """Finish a consolidated query and tell the sources that were waiting on it what happened.

    The consolidated bundle is the person's whole record, so every source of theirs still waiting for
    a fresh copy is answered by it, even if the link to the query that asked was lost on the way."""
    now = timezone.now()
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        query.status = NetworkQuery.Status.FAILED if outcome == "failed" else NetworkQuery.Status.COMPLETED
        query.completed_at = query.completed_at or now
        query.last_activity_at = now
        query.save()
        if outcome == QuerySource.Records.AWAITING:
            return
        records = {
            "failed": QuerySource.Records.FAILED,
            "empty": QuerySource.Records.EMPTY,
            QuerySource.Records.SKIPPED: QuerySource.Records.FETCHED,
        }.get(outcome, outcome)
        waiting = QuerySource.objects.filter(
            query__user_id=query.user_id,
            query__kind=NetworkQuery.Kind.NETWORK,
            records=QuerySource.Records.AWAITING,
        )
        parent_ids = set(waiting.values_list("query_id", flat=True))
        # Each waiting source's query is locked before its sources are written: the order every
        # other service takes them in, so that none of them waits for this one in reverse.
        parents = list(NetworkQuery.objects.select_for_update().filter(pk__in=parent_ids).order_by("pk"))
        waiting.filter(query_id__in=[parent.pk for parent in parents]).update(records=records, updated_at=now)
        for parent in parents:
            query_settle(parent)
