"""Metriport's webhook bodies, decoded: one handler per event type reads the stored body (parsed
JSON) into the typed news `ias.events` accepts, and calls that event's service. Nothing else
happens here: what the event changes is decided in `ias.events`.

Bodies are read defensively (a field of the wrong type counts as missing), because a body the
network got wrong must still be recorded as an outcome, never crash a worker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ias import events, particle_events
from ias.delivery import LinkedBundle
from ias.events import (
    ConsolidatedNews,
    ConsolidatedPatient,
    DocumentsPatient,
    IdentityNews,
    Outcome,
    SourceNews,
)
from ias.models import WebhookEvent
from ias.network import NETWORK_ID, QUERY_REF_KEY, parse_when, plain_reason
from ias.particle_webhook import QUERY_TYPES
from ias.selectors import event_body, source_events_pending

Handler = Callable[[WebhookEvent, dict[str, Any]], Outcome]


def _object(value: Any) -> dict[str, Any]:
    """A JSON object from the body, or an empty one when the network sent something else."""
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return str(value) if value else ""


def _query_ref(body: dict[str, Any]) -> str:
    """Our own query id, sent as metadata; often missing on redeliveries, so only a hint."""
    for container in (_object(body.get("meta")).get("data"), _object(body.get("payload")).get("metadata")):
        if isinstance(container, dict) and container.get(QUERY_REF_KEY):
            return str(container[QUERY_REF_KEY])
    return ""


def _reason(payload: dict[str, Any]) -> str:
    """The network's own words for why a check failed: the first of its usual keys that says something."""
    for key in ("reason", "failureReason", "message"):
        reason = plain_reason(payload.get(key))
        if reason:
            return reason
    return ""


def _bundle_url(bundle: Any) -> str:
    """The JSON link in the result bundle's DocumentReference (content[0])."""
    for entry in _objects(_object(bundle).get("entry")):
        resource = _object(entry.get("resource"))
        if resource.get("resourceType") != "DocumentReference":
            continue
        for content in _objects(resource.get("content")):
            attachment = _object(content.get("attachment"))
            url = attachment.get("url")
            if isinstance(url, str) and url and attachment.get("contentType") != "application/gzip":
                return url
    return ""


def identity_news(event_type: str, body: dict[str, Any]) -> IdentityNews:
    payload = _object(body.get("payload"))
    proofed = str(payload.get("proofedIdentityId") or "")
    verified = event_type == "ias.identity.verified" and bool(NETWORK_ID.match(proofed))
    return IdentityNews(
        patient_id=_text(payload.get("patientId")),
        session_id=_text(payload.get("sessionId")),
        verified=verified,
        proofed_identity_id=proofed,
        expired="expire" in event_type or str(payload.get("status", "")).lower() == "expired",
        reason="" if verified else _reason(payload),
    )


def source_news(event_type: str, body: dict[str, Any]) -> SourceNews:
    meta, payload = _object(body.get("meta")), _object(body.get("payload"))
    source = _object(payload.get("source"))
    parts = event_type.split(".")
    url = payload.get("consolidatedDataUrl")
    return SourceNews(
        patient_id=_text(payload.get("patientId")),
        request_id=_text(meta.get("requestId") or payload.get("requestId")),
        query_ref=_query_ref(body),
        source_type=_text(source.get("type") or (parts[1] if len(parts) > 1 else "")),
        status=_text(source.get("status")),
        completed_at=parse_when(source.get("completedAt")),
        first_data=event_type.endswith("first-data-ready"),
        url=url if isinstance(url, str) else "",
    )


def consolidated_news(body: dict[str, Any]) -> ConsolidatedNews:
    patients = [
        ConsolidatedPatient(
            patient_id=_text(item.get("patientId")),
            status=str(item.get("status") or "completed"),
            url=_bundle_url(item.get("bundle")),
        )
        for item in _objects(body.get("patients"))
    ]
    return ConsolidatedNews(
        request_id=_text(_object(body.get("meta")).get("requestId")), query_ref=_query_ref(body), patients=patients
    )


def documents_news(body: dict[str, Any]) -> list[DocumentsPatient]:
    return [
        DocumentsPatient(
            patient_id=_text(item.get("patientId")),
            status=str(item.get("status") or "done"),
            documents=len(item["documents"]) if isinstance(item.get("documents"), list) else 0,
        )
        for item in _objects(body.get("patients"))
    ]


def handle_identity(event: WebhookEvent, body: dict[str, Any]) -> Outcome:
    return events.identity_event_process(event=event, news=identity_news(event.event_type, body))


def source_bundle_newer(event: WebhookEvent, after: datetime) -> LinkedBundle | None:
    """The newest link to the person's whole record, sent after `after`, in a `network-query.*` event
    for the same patient that is still waiting to be processed (decoded like its own handler will)."""
    for other in source_events_pending(event=event, after=after):
        news = source_news(other.event_type, event_body(other))
        if news.url and news.patient_id == event.network_patient_id:
            return LinkedBundle(
                url=news.url,
                data_at=events.data_at(other),
                message_id=other.message_id,
                network_source=news.source_type,
                request_id=news.request_id,
            )
    return None


def handle_network_query_source(event: WebhookEvent, body: dict[str, Any]) -> Outcome:
    return events.source_event_process(
        event=event,
        news=source_news(event.event_type, body),
        newer=lambda after: source_bundle_newer(event, after),
    )


def handle_consolidated(event: WebhookEvent, body: dict[str, Any]) -> Outcome:
    return events.consolidated_event_process(event=event, news=consolidated_news(body))


def handle_documents(event: WebhookEvent, body: dict[str, Any]) -> Outcome:
    return events.documents_event_note(event=event, patients=documents_news(body))


def handle_particle_query(event: WebhookEvent, body: dict[str, Any]) -> Outcome:
    return particle_events.particle_query_event_process(event=event, news=particle_events.particle_news(body))


def handle_bulk_patient_create(event: WebhookEvent, body: dict[str, Any]) -> Outcome:
    info = _object(body.get("bulkPatientCreate"))
    return events.PROCESSED, f"bulk patient create {info.get('status') or 'unknown'}"


def handle_ignored(event: WebhookEvent, body: dict[str, Any]) -> Outcome:
    return events.IGNORED, "no handler for this type"


def handler_for(event_type: str) -> Handler:
    if event_type.startswith("ias."):
        return handle_identity
    if event_type.startswith("network-query."):
        return handle_network_query_source
    if event_type == "medical.consolidated-data":
        return handle_consolidated
    if event_type in (
        "medical.document-download",
        "medical.document-conversion",
        "medical.document-bulk-download-urls",
    ):
        return handle_documents
    if event_type == "medical.bulk-patient-create":
        return handle_bulk_patient_create
    if event_type in QUERY_TYPES:
        return handle_particle_query
    return handle_ignored
