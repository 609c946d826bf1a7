"""One service per webhook event type: each owns its event's whole sequence (find the person, move
the query, fetch the records, ask again when a link expired), in one place. `ias.handlers` decodes
the body into the structs below and calls the service for its type; each returns (status, outcome),
the outcome a short label for staff, never health data.

The services are idempotent and order-independent: they only move state forward, create what an
early event refers to, and skip bundles older than what is already ingested. The steps that fetch
a bundle run outside any transaction (the house rule for network calls); each step owns its own. A
small bundle's download begun while a source's state is recorded runs in a thread of its own, which
holds no database connection, no transaction and no lock.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from django.db import transaction
from django.utils import timezone

from ias import delivery, identity, query_state
from ias.errors import EventMismatch
from ias.models import NetworkPatient, NetworkQuery, PatientDeletion, QuerySource, WebhookEvent
from ias.queueing import enqueue_after_commit

if TYPE_CHECKING:
    from records.download import BundlePrefetch

Outcome = tuple[str, str]
PROCESSED = WebhookEvent.Status.PROCESSED
IGNORED = WebhookEvent.Status.IGNORED


class IdentityNews(msgspec.Struct, frozen=True, kw_only=True):
    """An `ias.identity.*` event: how one identity session ended."""

    patient_id: str
    session_id: str
    verified: bool
    proofed_identity_id: str = ""
    expired: bool = False
    reason: str = ""


class SourceNews(msgspec.Struct, frozen=True, kw_only=True):
    """A `network-query.*` event: one source of a query has data, finished or failed."""

    patient_id: str
    request_id: str
    query_ref: str
    source_type: str
    status: str
    completed_at: datetime | None
    first_data: bool
    url: str = ""


class ConsolidatedPatient(msgspec.Struct, frozen=True, kw_only=True):
    patient_id: str
    status: str
    url: str = ""


class ConsolidatedNews(msgspec.Struct, frozen=True, kw_only=True):
    """A `medical.consolidated-data` event: the whole record of one or more patients, linked."""

    request_id: str
    query_ref: str
    patients: list[ConsolidatedPatient]


class DocumentsPatient(msgspec.Struct, frozen=True, kw_only=True):
    patient_id: str
    status: str
    documents: int


def link_for(patient_id: str) -> NetworkPatient | None:
    if not patient_id:
        return None
    return NetworkPatient.objects.filter(patient_id=patient_id).first()


def unknown_patient(event: WebhookEvent, patient_id: str) -> Outcome:
    if patient_id and PatientDeletion.objects.filter(network_patient_id=patient_id).exists():
        # This person asked to be forgotten: keep no copy of what the network still sends.
        WebhookEvent.objects.filter(pk=event.pk).update(body_encrypted=b"", body_size=0)
        return IGNORED, "patient was forgotten; body discarded"
    return IGNORED, "unknown patient"


def _refused(exc: EventMismatch) -> Outcome:
    return IGNORED, f"refused: {exc}"[:300]


def data_at(event: WebhookEvent) -> datetime:
    """When the network says the event's data was as it describes (its send time, else our receipt)."""
    return event.sent_at or event.received_at


def identity_event_process(*, event: WebhookEvent, news: IdentityNews) -> Outcome:
    """Record how the person's identity check ended."""
    link = link_for(news.patient_id)
    if link is None:
        return unknown_patient(event, news.patient_id)
    try:
        verification = identity.identity_result_apply(
            user_id=link.user_id,
            session_id=news.session_id,
            verified=news.verified,
            proofed_identity_id=news.proofed_identity_id,
            expired=news.expired,
            reason=news.reason,
        )
    except EventMismatch as exc:
        return _refused(exc)
    return PROCESSED, f"identity {verification.status}"


def source_event_process(
    *, event: WebhookEvent, news: SourceNews, newer: delivery.NewerBundle | None = None
) -> Outcome:
    """Move the source forward, then bring its linked records in; an expired link asks the network
    for the whole record again, with the source marked waiting for it first. `newer` finds a newer
    link still waiting to be processed, which is saved in this link's place (see `bundle_fetch`)."""
    link = link_for(news.patient_id)
    if link is None:
        return unknown_patient(event, news.patient_id)
    bundle = (
        delivery.LinkedBundle(
            url=news.url,
            data_at=data_at(event),
            message_id=event.message_id,
            network_source=news.source_type,
            request_id=news.request_id,
        )
        if news.url
        else None
    )
    # The link's download begins now, in a thread, while the source's state is recorded (see
    # records' BundlePrefetch); whatever the save does not use is dropped when the event is done.
    prefetched = delivery.bundle_prefetch_start(bundle=bundle, link=link) if bundle is not None else None
    try:
        return _source_event_records(news=news, bundle=bundle, user_id=link.user_id, newer=newer, prefetched=prefetched)
    finally:
        if prefetched is not None:
            prefetched.discard()


def _source_event_records(
    *,
    news: SourceNews,
    bundle: delivery.LinkedBundle | None,
    user_id: int,
    newer: delivery.NewerBundle | None,
    prefetched: BundlePrefetch | None,
) -> Outcome:
    if bundle is not None:
        marked: str | None = QuerySource.Records.SAVING
    elif not news.first_data and news.status == "completed":
        # A finished source that links nothing has nothing to add to the record.
        marked = QuerySource.Records.EMPTY
    else:
        marked = None
    try:
        query_id, source_id = query_state.source_event_apply(
            user_id=user_id,
            request_id=news.request_id,
            query_ref=news.query_ref,
            source_type=news.source_type,
            status=news.status,
            completed_at=news.completed_at,
            first_data=news.first_data,
            records=marked,
        )
    except EventMismatch as exc:
        return _refused(exc)
    said = f"{news.source_type} {news.status or 'updated'}"
    if bundle is None:
        return PROCESSED, f"{said}; no link"
    try:
        records, saved = delivery.bundle_fetch(user_id=user_id, bundle=bundle, newer=newer, prefetched=prefetched)
    except Exception:
        # A retry will save it again; until then the row must not claim a save is running.
        query_state.source_records_set(source_id=source_id, records=QuerySource.Records.NONE, query_id=query_id)
        raise
    if records == QuerySource.Records.AWAITING:
        # Marked before asking, so a fast answer to the consolidated query finds this source waiting.
        query_state.source_records_set(source_id=source_id, records=records, query_id=query_id)
        delivery.consolidated_query_start(user_id=user_id, parent_id=query_id)
    else:
        query_state.source_records_set(source_id=source_id, records=records, saved=saved, query_id=query_id)
    return PROCESSED, f"{said}; records {records}"


def consolidated_event_process(*, event: WebhookEvent, news: ConsolidatedNews) -> Outcome:
    """Bring each patient's whole record in and answer the sources that were waiting for it."""
    outcomes = []
    for item in news.patients:
        link = link_for(item.patient_id)
        if link is None:
            outcomes.append(unknown_patient(event, item.patient_id)[1])
            continue
        try:
            with transaction.atomic():
                query = query_state.query_for_event(
                    user_id=link.user_id,
                    request_id=news.request_id or f"consolidated-{event.message_id}",
                    query_ref=news.query_ref,
                    kind=NetworkQuery.Kind.CONSOLIDATED,
                )
        except EventMismatch as exc:
            outcomes.append(_refused(exc)[1])
            continue
        if item.status == "failed":
            outcome = "failed"
        elif not item.url:
            outcome = "empty"
        else:
            outcome, _saved = delivery.bundle_fetch(
                user_id=link.user_id,
                bundle=delivery.LinkedBundle(
                    url=item.url,
                    data_at=data_at(event),
                    message_id=event.message_id,
                    network_source="consolidated",
                    request_id=news.request_id,
                ),
            )
            if outcome == QuerySource.Records.AWAITING:
                delivery.consolidated_query_start(user_id=link.user_id, parent_id=query.parent_id)
        delivery.consolidated_result_apply(query_id=query.pk, outcome=outcome)
        outcomes.append(f"consolidated {outcome}")
    if not outcomes:
        return IGNORED, "no patients"
    return PROCESSED, "; ".join(outcomes)[:300]


def documents_event_note(*, event: WebhookEvent, patients: list[DocumentsPatient]) -> Outcome:
    """Document download, conversion and bulk-URL events: noted for staff; the consolidated bundle
    (fetched by the query events) already carries the converted documents."""
    counts = []
    for item in patients:
        if link_for(item.patient_id) is None:
            counts.append("unknown patient")
            continue
        counts.append(f"{item.status} ({item.documents} documents)")
    return PROCESSED, f"{event.event_type}: " + ("; ".join(counts) or "no patients")


def webhook_event_reprocess(*, event_id: int) -> None:
    """Staff action: put a failed or processed event back in the queue."""
    from ias.tasks import event_process

    with transaction.atomic():
        WebhookEvent.objects.filter(pk=event_id).update(
            status=WebhookEvent.Status.PENDING,
            attempts=0,
            claimed_until=None,
            last_enqueued_at=timezone.now(),
        )
        enqueue_after_commit(event_process, event_id=event_id)
