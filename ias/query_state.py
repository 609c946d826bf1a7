"""The query state machine: sources only move forward, the query's status follows its sources, and a
query settles (and the person is told, once) when every source's records are in.

Every function here runs inside the caller's transaction, on rows it holds with `select_for_update`,
unless it opens its own (`query_apply_network_status`, `source_event_apply`, `source_records_set`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ias import wording
from ias.commits import unsynced
from ias.errors import (
    EventMismatch,
    JourneyError,
)
from ias.models import (
    NetworkQuery,
    QuerySource,
)
from ias.network import (
    QueryStatus,
)
from ias.queueing import enqueue_after_commit

log = logging.getLogger(__name__)


_SOURCE_RANK: dict[str, int] = {
    QuerySource.Status.REQUESTED: 0,
    QuerySource.Status.PROCESSING: 1,
    QuerySource.Status.REFUSED: 2,
    QuerySource.Status.TIMED_OUT: 2,
    QuerySource.Status.FAILED: 3,
    QuerySource.Status.COMPLETED: 3,
}


NETWORK_SOURCE_STATUS = {
    "processing": QuerySource.Status.PROCESSING,
    "completed": QuerySource.Status.COMPLETED,
    "failed": QuerySource.Status.FAILED,
}


def source_row(query: NetworkQuery, source_type: str, rows: list[QuerySource] | None = None) -> QuerySource:
    """The query's row for `source_type` (locked), made when the query has none. With `rows`, the
    query's rows already locked (`sources_locked`), it is looked for there, and a new row is added to it."""
    source_type = (source_type or "unknown")[:20]
    if rows is None:
        row = QuerySource.objects.select_for_update().filter(query=query, source_type=source_type).first()
    else:
        row = next((each for each in rows if each.source_type == source_type), None)
    if row is None:
        row = QuerySource.objects.create(query=query, source_type=source_type)
        if rows is not None:
            rows.append(row)
    return row


def sources_locked(query_id: int) -> list[QuerySource]:
    """Every source row of a query, locked, in one statement. Taken after the query's own row (the
    order every service locks them in); a step that reads the sources again to recompute or settle
    the query is handed these rows instead, so it sees its own changes without asking again."""
    return list(QuerySource.objects.select_for_update().filter(query_id=query_id).order_by("pk"))


def source_advance(
    row: QuerySource,
    status: str,
    *,
    reason: str = "",
    started_at: datetime | None = None,
    completed_at: datetime | None = None,
    http_status: int | None = None,
    network_message: str = "",
) -> bool:
    """Move a source forward only: a late "processing" never undoes "completed"; first terminal wins,
    except that a real answer (completed/failed) replaces a refusal or time-out we assumed."""
    current = _SOURCE_RANK.get(row.status, 0)
    new = _SOURCE_RANK.get(status, 0)
    if new < current or (new == current and row.status != status):
        return False
    row.status = status
    if reason:
        row.reason = reason[:300]
    elif status == QuerySource.Status.COMPLETED:
        row.reason = ""
    if started_at and not row.started_at:
        row.started_at = started_at
    if status in QuerySource.TERMINAL and not row.completed_at:
        row.completed_at = completed_at or timezone.now()
    if http_status is not None:
        row.http_status = http_status
    if network_message:
        row.network_message = network_message[:500]
    row.save()
    return True


def query_recompute(query: NetworkQuery, rows: list[QuerySource] | None = None) -> None:
    """Derive the overall status from the sources, like the network does (from `rows`, the query's
    locked rows, when the caller holds them)."""
    if query.kind != NetworkQuery.Kind.NETWORK:
        return
    if rows is not None:
        statuses = [row.status for row in rows]
    else:
        statuses = list(query.sources.values_list("status", flat=True))
    if not statuses:
        return
    if any(s not in QuerySource.TERMINAL for s in statuses):
        if query.status in (NetworkQuery.Status.STARTING, NetworkQuery.Status.TIMED_OUT):
            return
        query.status = NetworkQuery.Status.PROCESSING
        query.completed_at = None
        return
    completed = sum(1 for s in statuses if s == QuerySource.Status.COMPLETED)
    if completed == len(statuses):
        query.status = NetworkQuery.Status.COMPLETED
    elif completed:
        query.status = NetworkQuery.Status.PARTIAL
    elif query.status != NetworkQuery.Status.TIMED_OUT:
        query.status = NetworkQuery.Status.FAILED
    query.completed_at = query.completed_at or timezone.now()


def _query_absorb(*, into: NetworkQuery, placeholder: NetworkQuery) -> None:
    """Fold a placeholder (made by an early webhook) into the query the portal started."""
    for early in placeholder.sources.all():
        row = source_row(into, early.source_type)
        source_advance(
            row,
            early.status,
            reason=early.reason,
            started_at=early.started_at,
            completed_at=early.completed_at,
            http_status=early.http_status,
            network_message=early.network_message,
        )
        if early.records != QuerySource.Records.NONE and row.records == QuerySource.Records.NONE:
            row.records = early.records
            row.first_data_at = row.first_data_at or early.first_data_at
            row.save(update_fields=["records", "first_data_at"])
    NetworkQuery.objects.filter(parent=placeholder).update(parent=into)
    placeholder.delete()


def query_bind_request_id(query: NetworkQuery, request_id: str) -> NetworkQuery:
    """Give `query` its network request id; merges with a row an early webhook or an identical
    running consolidated query already holds. Returns the row that now owns the request id."""
    if not request_id or query.request_id == request_id:
        return query
    other = NetworkQuery.objects.select_for_update().filter(request_id=request_id).exclude(pk=query.pk).first()
    if other is not None and not other.placeholder:
        # The network answered with a query we already track (one consolidated query at a time).
        if query.parent_id and not other.parent_id:
            other.parent_id = query.parent_id
            other.save(update_fields=["parent"])
        query.delete()
        return other
    if other is not None:
        _query_absorb(into=query, placeholder=other)
    query.request_id = request_id
    query.save(update_fields=["request_id"])
    return query


def query_apply_network_status(*, query_id: int, status: QueryStatus) -> NetworkQuery:
    """Apply what the network says of a query: the sources it lists and the ones it refused."""
    now = timezone.now()
    with transaction.atomic():
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        query = query_bind_request_id(query, status.request_id)
        query.started_at = query.started_at or status.started_at or now
        if query.status == NetworkQuery.Status.STARTING:
            query.status = NetworkQuery.Status.PROCESSING
        for item in status.sources:
            state = NETWORK_SOURCE_STATUS[item.state]
            source_advance(
                source_row(query, item.source_type),
                state,
                reason=wording.SOURCE_FAILED if state == QuerySource.Status.FAILED else "",
                started_at=item.started_at,
                completed_at=item.completed_at,
            )
        for refusal in status.refusals:
            source_advance(
                source_row(query, refusal.source_type),
                QuerySource.Status.REFUSED,
                reason=wording.refused_reason(refusal.http_status),
                http_status=refusal.http_status,
                network_message=refusal.message,
            )
        query_recompute(query)
        query.last_activity_at = now
        query.save()
        query_settle(query)
    return query


def query_settle(query: NetworkQuery, rows: list[QuerySource] | None = None) -> None:
    """Once the query has finished and every source's records are in, note it and tell the person
    (after commit, once). Must be called inside a transaction holding the query's row (and, when
    `rows` is given, all of its source rows, as they are now).

    A search that also asked other networks settles, and tells the person, only once every
    network's part has settled; the last part to settle settles the search (it locks the search's
    row after its own, the order no other service takes them in reverse)."""
    if query.kind != NetworkQuery.Kind.NETWORK or query.settled_at is not None or not query.is_terminal:
        return
    if not all(row.is_settled for row in (rows if rows is not None else query.sources.all())):
        return
    companions = NetworkQuery.objects.filter(parent=query, kind=NetworkQuery.Kind.NETWORK, settled_at__isnull=True)
    if query.parent_id is None and companions.exists():
        return
    query.settled_at = timezone.now()
    query.save(update_fields=["settled_at"])
    if query.parent_id is not None:
        query_settle(NetworkQuery.objects.select_for_update().get(pk=query.parent_id))
        return
    from ias.tasks import query_outcome_notify

    query_id = query.pk
    enqueue_after_commit(query_outcome_notify, query_id=query_id)


def query_for_event(
    *, user_id: int, request_id: str, query_ref: str, kind: str = NetworkQuery.Kind.NETWORK
) -> NetworkQuery:
    """Find (locked) the query an event talks about, or create a placeholder for one not seen yet.

    Must be called inside a transaction."""
    if request_id:
        query = NetworkQuery.objects.select_for_update().filter(request_id=request_id).first()
        if query is not None:
            return _query_owned_by(query, user_id)
    if query_ref:
        query = NetworkQuery.objects.select_for_update().filter(public_id=_uuid_or_none(query_ref)).first()
        if query is not None and query.user_id == user_id:
            return query_bind_request_id(query, request_id)
    if not request_id:
        raise JourneyError("event names no query")
    try:
        with transaction.atomic():
            return NetworkQuery.objects.create(
                user_id=user_id,
                kind=kind,
                request_id=request_id,
                placeholder=True,
                status=NetworkQuery.Status.PROCESSING,
                started_at=timezone.now(),
            )
    except IntegrityError:
        return _query_owned_by(NetworkQuery.objects.select_for_update().get(request_id=request_id), user_id)


def _query_owned_by(query: NetworkQuery, user_id: int) -> NetworkQuery:
    """The query an event's requestId names, only if it is the event's patient's own."""
    if query.user_id != user_id:
        raise EventMismatch("the event's requestId belongs to another person's query")
    return query


def _uuid_or_none(value: str):

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def source_event_apply(
    *,
    user_id: int,
    request_id: str,
    query_ref: str,
    source_type: str,
    status: str,
    completed_at: datetime | None,
    first_data: bool,
    records: str | None = None,
) -> tuple[int, int]:
    """Record what one `network-query.*` webhook says about its source; returns (query id, source id).

    `records`, when given, is what becomes of the source's records as the event is recorded ("saving"
    before its bundle is fetched, "empty" when it links nothing), by the rules of `source_records_set`
    and in the same transaction: the source never reads as answered with nothing on its way."""
    now = timezone.now()
    with transaction.atomic():
        query = query_for_event(user_id=user_id, request_id=request_id, query_ref=query_ref)
        rows = sources_locked(query.pk)
        row = source_row(query, source_type, rows)
        unsaved: set[str] = set()
        if records is not None and records_apply(row, records):
            unsaved.update(("records", "records_saved", "updated_at"))
        if first_data:
            if not row.first_data_at:
                row.first_data_at = now
                unsaved.add("first_data_at")
            advanced = source_advance(row, QuerySource.Status.PROCESSING)
        else:
            mapped = NETWORK_SOURCE_STATUS.get(status, QuerySource.Status.COMPLETED)
            advanced = source_advance(
                row,
                mapped,
                reason=wording.SOURCE_FAILED if mapped == QuerySource.Status.FAILED else "",
                completed_at=completed_at,
            )
        if unsaved and not advanced:  # an advance saved the whole row
            row.save(update_fields=sorted(unsaved))
        query_recompute(query, rows)
        query.last_activity_at = now
        query.save()
        query_settle(query, rows)
        if records == QuerySource.Records.SAVING and query.settled_at is None:
            unsynced()  # work in progress: lost in a crash, the pending event records it again
    return query.pk, row.pk


def records_apply(row: QuerySource, records: str, saved: int | None = None) -> bool:
    """Set what became of a source's records on `row` (not saved); False when the rules keep it as it is.

    "fetched" is never downgraded by a later skip or save, and "none" only takes back a save that
    did not finish."""
    if row.records == QuerySource.Records.FETCHED and records in (
        QuerySource.Records.SKIPPED,
        QuerySource.Records.SAVING,
    ):
        return False
    if records == QuerySource.Records.NONE and row.records != QuerySource.Records.SAVING:
        return False
    row.records = records
    if saved is not None:
        row.records_saved = saved
    return True


def source_records_set(*, source_id: int, records: str, saved: int | None = None, query_id: int | None = None) -> None:
    """Note what became of a source's records (see `records_apply`); `query_id`, the source's query
    when the caller knows it, spares looking it up.

    "saving" is set before a bundle is downloaded, so the source does not read as done while its
    records are still on their way into the person's record."""
    if query_id is None:
        query_id = QuerySource.objects.values_list("query_id", flat=True).get(pk=source_id)
    with transaction.atomic():
        # The query first, then the source: the order every other service locks them in.
        query = NetworkQuery.objects.select_for_update().get(pk=query_id)
        rows = sources_locked(query_id)
        row = next((each for each in rows if each.pk == source_id), None)
        if row is None:
            raise QuerySource.DoesNotExist(f"source {source_id} is not one of query {query_id}'s")
        if not records_apply(row, records, saved):
            return
        row.save(update_fields=["records", "records_saved", "updated_at"])
        query_settle(query, rows)
