"""Particle's query notification, processed by the same event machinery as Metriport's events.

The notification says a query finished (COMPLETE, "Complete with Errors", or FAILED). The service
moves the query's one source ("all") forward and, when it finished with data, brings Particle's
FHIR bundle into the record. The bundle is fetched from Particle with the client's token (not by
link), written to a temporary file and ingested as Particle's items: what Particle no longer holds
is retired among Particle's items only, never another network's (records scope ids per network).
"""

from __future__ import annotations

import tempfile

import msgspec
from django.db import IntegrityError, transaction
from django.utils import timezone

from ias import particle, query_state
from ias.errors import EventMismatch
from ias.events import IGNORED, PROCESSED, Outcome, unknown_patient
from ias.models import NetworkPatient, NetworkQuery, QuerySource, WebhookEvent
from ias.network import NetworkPermanentError
from ias.particle_network import SOURCE, request_id_make
from ias.particle_webhook import ParticleEvent, event_read

PHASE_STATUS = {"complete": "completed", "partial": "completed", "failed": "failed"}


def particle_records_fetch(*, user_id: int, patient_id: str, request_id: str) -> tuple[str, int]:
    """Ingest Particle's bundle for this person; (a Records value, clinical resources saved)."""
    from records.services import snapshot_clinical_count, snapshot_ingest_file

    try:
        with particle.client() as api:
            raw = api.fhir_bundle(particle_patient_id=patient_id)
    except NetworkPermanentError:
        return QuerySource.Records.FAILED, 0
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(raw)
        handle.flush()
        snapshot = snapshot_ingest_file(
            user_id=user_id,
            path=handle.name,
            network_source="particle",
            network="particle",
            retire=True,
            request_id=request_id,
            patient_id=patient_id,
        )
    clinical = snapshot_clinical_count(snapshot=snapshot)
    return (QuerySource.Records.FETCHED, clinical) if clinical else (QuerySource.Records.EMPTY, 0)


def placeholder_make(*, user_id: int, request_id: str) -> None:
    """A notification for a query not seen yet: its placeholder row belongs to Particle, so that a
    poll of it asks Particle."""
    with transaction.atomic():
        if NetworkQuery.objects.filter(request_id=request_id).exists():
            return
        try:
            with transaction.atomic():
                NetworkQuery.objects.create(
                    user_id=user_id,
                    network="particle",
                    request_id=request_id,
                    placeholder=True,
                    status=NetworkQuery.Status.PROCESSING,
                    started_at=timezone.now(),
                )
        except IntegrityError:
            return


def particle_query_event_process(*, event: WebhookEvent, news: ParticleEvent) -> Outcome:
    """Move the Particle query forward from its notification, then bring its records in."""
    if news.query is None:
        return IGNORED, "not a query notification"
    patient_id = news.particle_patient_id
    link = NetworkPatient.objects.filter(network="particle", patient_id=patient_id).first()
    if link is None:
        return unknown_patient(event, patient_id)
    status = PHASE_STATUS.get(news.phase, "processing")
    request_id = request_id_make(patient_id, news.query.query_id)
    placeholder_make(user_id=link.user_id, request_id=request_id)
    try:
        _query_id, source_id = query_state.source_event_apply(
            user_id=link.user_id,
            request_id=request_id,
            query_ref="",
            source_type=SOURCE,
            status=status,
            completed_at=news.sent_at,
            first_data=False,
        )
    except EventMismatch as exc:
        return IGNORED, f"refused: {exc}"[:300]
    if status != "completed":
        return PROCESSED, f"{SOURCE} {status}"
    query_state.source_records_set(source_id=source_id, records=QuerySource.Records.SAVING)
    try:
        records, saved = particle_records_fetch(user_id=link.user_id, patient_id=patient_id, request_id=request_id)
    except Exception:
        query_state.source_records_set(source_id=source_id, records=QuerySource.Records.NONE)
        raise
    query_state.source_records_set(source_id=source_id, records=records, saved=saved)
    return PROCESSED, f"{SOURCE} completed; records {records}"


def particle_query_records_fetch(*, query_id: int) -> None:
    """A Particle query found finished by polling (its notification never came): bring its records in."""
    query = NetworkQuery.objects.get(pk=query_id)
    link = NetworkPatient.objects.filter(user_id=query.user_id, network="particle").first()
    if link is None or not link.patient_id or not query.request_id:
        return
    waiting = query.sources.filter(status=QuerySource.Status.COMPLETED, records=QuerySource.Records.NONE)
    for source_id in list(waiting.values_list("pk", flat=True)):
        query_state.source_records_set(source_id=source_id, records=QuerySource.Records.SAVING)
        try:
            records, saved = particle_records_fetch(
                user_id=query.user_id, patient_id=link.patient_id, request_id=query.request_id
            )
        except Exception:
            query_state.source_records_set(source_id=source_id, records=QuerySource.Records.NONE)
            raise
        query_state.source_records_set(source_id=source_id, records=records, saved=saved)


def particle_news(body: object) -> ParticleEvent:
    """The stored body (already verified at the door) decoded again into the typed event."""
    return event_read(msgspec.json.encode(body))
