"""One handler per webhook type. Each takes the stored event and its parsed body and returns
(status, outcome): the outcome is a short label for staff, never health data.

Handlers are idempotent and order-independent: they only move state forward, create what an
early event refers to, and skip bundles older than what is already ingested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from ias import services
from ias.errors import EventMismatch
from ias.models import NetworkPatient, NetworkQuery, PatientDeletion, QuerySource, WebhookEvent
from ias.network import NETWORK_ID, QUERY_REF_KEY, parse_when, plain_reason

Result = tuple[str, str]
PROCESSED = WebhookEvent.Status.PROCESSED
IGNORED = WebhookEvent.Status.IGNORED


def _dict(value: Any) -> dict[str, Any]:
    """A JSON object from the body, or an empty one when the network sent something else."""
    return value if isinstance(value, dict) else {}


def _meta(body: dict[str, Any]) -> dict[str, Any]:
    meta = body.get("meta")
    return meta if isinstance(meta, dict) else {}


def _payload(body: dict[str, Any]) -> dict[str, Any]:
    payload = body.get("payload")
    return payload if isinstance(payload, dict) else {}


def _query_ref(body: dict[str, Any]) -> str:
    """Our own query id, sent as metadata; often missing on redeliveries, so only a hint."""
    for container in (_meta(body).get("data"), _payload(body).get("metadata")):
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


def _link_for(patient_id: Any) -> NetworkPatient | None:
    if not patient_id:
        return None
    return NetworkPatient.objects.filter(patient_id=str(patient_id)).first()


def _unknown_patient(event: WebhookEvent, patient_id: Any) -> Result:
    if patient_id and PatientDeletion.objects.filter(network_patient_id=str(patient_id)).exists():
        # This person asked to be forgotten: keep no copy of what the network still sends.
        WebhookEvent.objects.filter(pk=event.pk).update(body_encrypted=b"", body_size=0)
        return IGNORED, "patient was forgotten; body discarded"
    return IGNORED, "unknown patient"


def _data_at(event: WebhookEvent) -> Any:
    return event.sent_at or event.received_at


def _mismatch(exc: EventMismatch) -> Result:
    return IGNORED, f"refused: {exc}"[:300]


def handle_identity(event: WebhookEvent, body: dict[str, Any]) -> Result:
    try:
        return _identity_apply(event, body)
    except EventMismatch as exc:
        return _mismatch(exc)


def _identity_apply(event: WebhookEvent, body: dict[str, Any]) -> Result:
    payload = _payload(body)
    link = _link_for(payload.get("patientId"))
    if link is None:
        return _unknown_patient(event, payload.get("patientId"))
    event_type = event.event_type
    proofed = str(payload.get("proofedIdentityId") or "")
    verified = event_type == "ias.identity.verified" and bool(NETWORK_ID.match(proofed))
    expired = "expire" in event_type or str(payload.get("status", "")).lower() == "expired"
    verification = services.identity_result_apply(
        user_id=link.user_id,
        session_id=str(payload.get("sessionId") or ""),
        verified=verified,
        proofed_identity_id=proofed,
        expired=expired,
        reason="" if verified else _reason(payload),
    )
    return PROCESSED, f"identity {verification.status}"


def handle_network_query_source(event: WebhookEvent, body: dict[str, Any]) -> Result:
    try:
        return _network_query_source_apply(event, body)
    except EventMismatch as exc:
        return _mismatch(exc)


def _network_query_source_apply(event: WebhookEvent, body: dict[str, Any]) -> Result:
    meta, payload = _meta(body), _payload(body)
    link = _link_for(payload.get("patientId"))
    if link is None:
        return _unknown_patient(event, payload.get("patientId"))
    source = _dict(payload.get("source"))
    parts = event.event_type.split(".")
    source_type = str(source.get("type") or (parts[1] if len(parts) > 1 else ""))
    first_data = event.event_type.endswith("first-data-ready")
    request_id = str(meta.get("requestId") or payload.get("requestId") or "")
    query_id, source_id = services.source_event_apply(
        user_id=link.user_id,
        request_id=request_id,
        query_ref=_query_ref(body),
        source_type=source_type,
        status=str(source.get("status") or ""),
        completed_at=parse_when(source.get("completedAt")),
        first_data=first_data,
    )
    url = payload.get("consolidatedDataUrl")
    if not isinstance(url, str) or not url:
        if not first_data and str(source.get("status") or "") == "completed":
            # A finished source that links nothing has nothing to add to the record.
            services.source_records_set(source_id=source_id, records=QuerySource.Records.EMPTY)
        return PROCESSED, f"{source_type} {source.get('status') or 'updated'}; no link"
    services.source_records_set(source_id=source_id, records=QuerySource.Records.SAVING)
    try:
        records, saved = services.bundle_fetch(
            user_id=link.user_id,
            url=url,
            network_source=source_type,
            request_id=request_id,
            data_at=_data_at(event),
            message_id=event.message_id,
        )
    except Exception:
        # A retry will save it again; until then the row must not claim a save is running.
        services.source_records_set(source_id=source_id, records=QuerySource.Records.NONE)
        raise
    if records == QuerySource.Records.AWAITING:
        # Marked before asking, so a fast answer to the consolidated query finds this source waiting.
        services.source_records_set(source_id=source_id, records=records)
        services.consolidated_query_start(user_id=link.user_id, parent_id=query_id)
        return PROCESSED, f"{source_type} {source.get('status') or 'updated'}; records {records}"
    services.source_records_set(source_id=source_id, records=records, saved=saved)
    return PROCESSED, f"{source_type} {source.get('status') or 'updated'}; records {records}"


def _consolidated_url(bundle: Any) -> str:
    """The JSON link in the result bundle's DocumentReference (content[0]), read defensively."""
    if not isinstance(bundle, dict):
        return ""
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "DocumentReference":
            continue
        for content in resource.get("content") or []:
            attachment = content.get("attachment") if isinstance(content, dict) else None
            if not isinstance(attachment, dict):
                continue
            url = attachment.get("url")
            if isinstance(url, str) and url and attachment.get("contentType") != "application/gzip":
                return url
    return ""


def handle_consolidated(event: WebhookEvent, body: dict[str, Any]) -> Result:
    meta = _meta(body)
    request_id = str(meta.get("requestId") or "")
    outcomes = []
    for item in body.get("patients") or []:
        if not isinstance(item, dict):
            continue
        link = _link_for(item.get("patientId"))
        if link is None:
            outcomes.append(_unknown_patient(event, item.get("patientId"))[1])
            continue
        try:
            with transaction.atomic():
                query = services.query_for_event(
                    user_id=link.user_id,
                    request_id=request_id or f"consolidated-{event.message_id}",
                    query_ref=_query_ref(body),
                    kind=NetworkQuery.Kind.CONSOLIDATED,
                )
        except EventMismatch as exc:
            outcomes.append(_mismatch(exc)[1])
            continue
        status = str(item.get("status") or "completed")
        url = _consolidated_url(item.get("bundle"))
        if status == "failed":
            outcome = "failed"
        elif not url:
            outcome = "empty"
        else:
            outcome, _saved = services.bundle_fetch(
                user_id=link.user_id,
                url=url,
                network_source="consolidated",
                request_id=request_id,
                data_at=_data_at(event),
                message_id=event.message_id,
            )
            if outcome == QuerySource.Records.AWAITING:
                services.consolidated_query_start(user_id=link.user_id, parent_id=query.parent_id)
        services.consolidated_result_apply(query_id=query.pk, outcome=outcome)
        outcomes.append(f"consolidated {outcome}")
    if not outcomes:
        return IGNORED, "no patients"
    return PROCESSED, "; ".join(outcomes)[:300]


def handle_documents(event: WebhookEvent, body: dict[str, Any]) -> Result:
    """Document download, conversion and bulk-URL events: noted for staff; the consolidated
    bundle (fetched by the query events) already carries the converted documents."""
    counts = []
    for item in body.get("patients") or []:
        if not isinstance(item, dict):
            continue
        if _link_for(item.get("patientId")) is None:
            counts.append("unknown patient")
            continue
        documents = item.get("documents")
        counted = len(documents) if isinstance(documents, list) else 0
        counts.append(f"{item.get('status') or 'done'} ({counted} documents)")
    return PROCESSED, f"{event.event_type}: " + ("; ".join(counts) or "no patients")


def handle_bulk_patient_create(event: WebhookEvent, body: dict[str, Any]) -> Result:
    info = _dict(body.get("bulkPatientCreate"))
    return PROCESSED, f"bulk patient create {info.get('status') or 'unknown'}"


def handle_ignored(event: WebhookEvent, body: dict[str, Any]) -> Result:
    return IGNORED, "no handler for this type"


def handler_for(event_type: str) -> Callable[[WebhookEvent, dict[str, Any]], Result]:
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
    return handle_ignored
