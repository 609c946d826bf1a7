"""Particle's query notification, processed by the same event machinery as Metriport's events.

The notification says a query finished (COMPLETE, "Complete with Errors", or FAILED). The service
moves the query's one source ("all") forward and, when it finished with data, brings Particle's
FHIR bundle and its C-CDA documents into the record. Both are fetched from Particle with the
client's token (not by link); the documents join the bundle as DocumentReferences
(`ias.particle_documents`), which is written to a temporary file and ingested as Particle's items:
what Particle no longer holds is retired among Particle's items only, never another network's
(records scope ids per network).
"""

from __future__ import annotations

import logging
import tempfile

import msgspec
from django.db import IntegrityError, transaction
from django.utils import timezone

from ias import particle, particle_documents, query_state
from ias.errors import EventMismatch
from ias.events import IGNORED, PROCESSED, Outcome, unknown_patient
from ias.models import NetworkPatient, NetworkQuery, QuerySource, WebhookEvent
from ias.network import NetworkPermanentError
from ias.particle_network import SOURCE, request_id_make
from ias.particle_webhook import ParticleEvent, event_read

logger = logging.getLogger(__name__)

PHASE_STATUS = {"complete": "completed", "partial": "completed", "failed": "failed"}


def documents_zip(api: particle.ParticleClient, patient_id: str) -> bytes:
    """The C-CDA ZIP; none when Particle refuses it for good (the FHIR records still come in)."""
    try:
        return api.ccda_zip(particle_patient_id=patient_id)
    except NetworkPermanentError:
        logger.warning("particle: C-CDA documents refused for good; the FHIR records are saved without them")
        return b""


def search_request_id(request_id: str) -> str:
    """The request id of the search a Particle query is part of (the first network's), so that the
    record groups both networks' snapshots of one search; its own id when it has no search."""
    parent = (
        NetworkQuery.objects.filter(request_id=request_id, parent__isnull=False)
        .values_list("parent__request_id", flat=True)
        .first()
    )
    return parent or request_id


def particle_records_fetch(*, user_id: int, patient_id: str, request_id: str) -> tuple[str, int]:
    """Ingest Particle's bundle for this person; (a Records value, clinical resources saved)."""
    from records.services import snapshot_clinical_count, snapshot_ingest_file

    try:
        with particle.client() as api:
            raw = api.fhir_bundle(particle_patient_id=patient_id)
            documents = particle_documents.zip_read(documents_zip(api, patient_id))
    except NetworkPermanentError:
        return QuerySource.Records.FAILED, 0
    references = [particle_documents.document_reference(d, patient_id=patient_id) for d in documents]
    raw, had_entries = particle_documents.bundle_with_documents(raw, references)
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(raw)
        handle.flush()
        del raw
        snapshot = snapshot_ingest_file(
            user_id=user_id,
            path=handle.name,
            network_source="particle",
            network="particle",
            retire=True,
            request_id=search_request_id(request_id),
            # Particle's own resources must be this person's; documents come from this person's URL.
            patient_id=patient_id if had_entries else "",
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
        query_id, source_id = query_state.source_event_apply(
            user_id=link.user_id,
            request_id=request_id,
            query_ref="",
            source_type=SOURCE,
            status=status,
            completed_at=news.sent_at,
            first_data=False,
            records=QuerySource.Records.SAVING if status == "completed" else None,
        )
    except EventMismatch as exc:
        return IGNORED, f"refused: {exc}"[:300]
    if status != "completed":
        return PROCESSED, f"{SOURCE} {status}"
    try:
        records, saved = particle_records_fetch(user_id=link.user_id, patient_id=patient_id, request_id=request_id)
    except Exception:
        query_state.source_records_set(source_id=source_id, records=QuerySource.Records.NONE, query_id=query_id)
        raise
    query_state.source_records_set(source_id=source_id, records=records, saved=saved, query_id=query_id)
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
