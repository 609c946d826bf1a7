"""What the simulated network does: each function owns its transaction and schedules its tasks.

Webhooks are rows first (`WebhookDelivery`) and HTTP second (a task), so that a failed delivery
is kept for `POST /settings/webhook/retry`, as the real network does.

Imports go one way: services import `sandbox.tasks` to schedule; tasks import services in their bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sandbox import conf as sconf
from sandbox import files, links, records, tasks
from sandbox.conf import FaultSpec, conf
from sandbox.generator import persona_for
from sandbox.models import (
    Aal2Challenge,
    Aal2Session,
    AccountSettings,
    ConsolidatedQuery,
    DocumentJob,
    Fault,
    IdentitySession,
    NetworkQuery,
    NetworkQuerySource,
    Patient,
    ProofedIdentity,
    WebhookDelivery,
)
from sandbox.problems import Problem
from sandbox.totp import new_secret

logger = logging.getLogger(__name__)

SOURCES = ("hie", "pharmacy", "lab")
USER_AGENT = "Metriport API"


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign(body: bytes, key: str) -> str:
    """The `x-metriport-signature` header: lowercase hex HMAC-SHA256 of the raw body."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


# ---- account settings and faults -----------------------------------------------------------------


def account_settings() -> AccountSettings:
    row = AccountSettings.objects.order_by("pk").first()
    if row is None:
        row = AccountSettings.objects.create()
    return row


def webhook_target() -> tuple[str, str, bool]:
    """(url, key, enabled) from the stored settings row, else from Django settings."""
    row = AccountSettings.objects.order_by("pk").first()
    url = (row.webhook_url if row else "") or conf("SANDBOX_WEBHOOK_URL")
    key = (row.webhook_key if row else "") or conf("SANDBOX_WEBHOOK_KEY")
    return url, key, (row.webhook_enabled if row else True)


def faults_active(*, patient_id: str | None) -> list[FaultSpec]:
    """Faults in force for this patient: its own rows, global rows, and SANDBOX_FAULTS."""
    qs = Fault.objects.filter(enabled=True)
    qs = (
        qs.filter(Q(patient__isnull=True) | Q(patient_id=patient_id)) if patient_id else qs.filter(patient__isnull=True)
    )
    specs = [FaultSpec(kind=f.kind, target=f.target, seconds=f.seconds) for f in qs]
    return specs + sconf.setting_faults()


def fault(specs: list[FaultSpec], kind: str, target: str | None = None) -> FaultSpec | None:
    for spec in specs:
        if spec.kind != kind:
            continue
        if target is None or not spec.target or target.startswith(spec.target):
            return spec
    return None


def event_link_fails(*, patient_id: str, event_type: str) -> bool:
    """The `fail_event` fault: links in this patient's webhooks of `event_type` answer 500 while it is on."""
    return fault(faults_active(patient_id=patient_id), "fail_event", event_type) is not None


def link_ttl(*, patient_id: str, default: float) -> float:
    return -1.0 if fault(faults_active(patient_id=patient_id), "expired_link") else default


# ---- patients ------------------------------------------------------------------------------------


def _record_size(persona: str) -> int:
    return int(conf("SANDBOX_LARGE_RECORD_SIZE") if persona == "large" else conf("SANDBOX_RECORD_SIZE"))


def patient_create(*, facility_id: str, data: dict) -> Patient:
    first = data["firstName"].split(",")[0]
    last = data["lastName"].split(",")[0]
    persona = persona_for(first_name=first, last_name=last)
    with transaction.atomic():
        return Patient.objects.create(
            facility_id=facility_id,
            external_id=data.get("externalId", "") or "",
            demographics={k: v for k, v in data.items() if k != "externalId"},
            persona=persona,
            record_size=_record_size(persona),
            etag=secrets.token_hex(8),
        )


def patient_update(*, patient: Patient, facility_id: str, data: dict) -> Patient:
    first = data["firstName"].split(",")[0]
    last = data["lastName"].split(",")[0]
    with transaction.atomic():
        patient.facility_id = facility_id
        if "externalId" in data:
            patient.external_id = data.get("externalId") or ""
        patient.demographics = {k: v for k, v in data.items() if k != "externalId"}
        patient.persona = persona_for(first_name=first, last_name=last)
        patient.record_size = _record_size(patient.persona)
        patient.etag = secrets.token_hex(8)
        patient.save()
    return patient


def patient_delete(*, patient: Patient) -> None:
    with transaction.atomic():
        patient.delete()


def patient_json(patient: Patient) -> dict:
    body = {"id": patient.id, "facilityIds": [patient.facility_id], **patient.demographics}
    if patient.external_id:
        body["externalId"] = patient.external_id
    body["dateCreated"] = iso(patient.date_created)
    body["eTag"] = patient.etag
    return body


# ---- identity (IAL2) and AAL2 --------------------------------------------------------------------


def identity_session_create(*, patient: Patient, redirect_url: str, metadata: dict) -> IdentitySession:
    ttl = conf("SANDBOX_IDENTITY_SESSION_TTL_SECONDS")
    with transaction.atomic():
        return IdentitySession.objects.create(
            patient=patient,
            redirect_url=redirect_url,
            metadata=metadata,
            expires_at=timezone.now() + timedelta(seconds=ttl),
        )


def identity_session_expire_if_stale(session: IdentitySession) -> IdentitySession:
    if session.status == "pending" and session.expires_at <= timezone.now():
        IdentitySession.objects.filter(pk=session.pk, status="pending").update(status="expired")
        session.refresh_from_db()
    return session


def identity_session_complete(*, session_id: str, outcome: str) -> IdentitySession:
    """The person finished (or left) the hosted page: record the outcome and tell the portal."""
    if outcome not in ("verified", "failed", "abandoned"):
        raise ValueError("unknown outcome")
    with transaction.atomic():
        session = IdentitySession.objects.select_for_update().select_related("patient").get(pk=session_id)
        if session.status != "pending":
            return session
        if session.expires_at <= timezone.now():
            session.status = "expired"
            session.save(update_fields=["status"])
            return session
        patient = session.patient
        if outcome == "verified" and patient.persona == "idfail":
            outcome = "failed"
        session.outcome = outcome
        session.status = "expired" if outcome == "abandoned" else "completed"
        session.completed_at = timezone.now()
        session.save(update_fields=["outcome", "status", "completed_at"])
        payload: dict[str, Any] = {"patientId": patient.id, "sessionId": session.id}
        if patient.external_id:
            payload["externalId"] = patient.external_id
        if outcome == "verified":
            identity = ProofedIdentity.objects.create(patient=patient, session=session, totp_secret=new_secret())
            payload.update(
                {
                    "proofedIdentityId": identity.id,
                    "status": "verified",
                    "verifiedAt": iso(session.completed_at),
                    "ial": "IAL2",
                }
            )
            event = "ias.identity.verified"
        elif outcome == "failed":
            payload.update(
                {
                    "status": "failed",
                    "reason": "The name and date of birth on the photo ID did not match the details entered.",
                }
            )
            event = "ias.identity.failed"
        else:
            payload.update({"status": "expired", "reason": "The person left identity verification"})
            event = "ias.identity.expired"
        webhook_enqueue(
            type=event,
            patient=patient,
            request_id=session.id,
            body={"payload": payload},
            data=session.metadata or None,
        )
    return session


def identity_session_json(session: IdentitySession) -> dict:
    body = {
        "sessionId": session.id,
        "patientId": session.patient_id,
        "status": session.status,
        "expiresAt": iso(session.expires_at),
    }
    if session.outcome:
        body["result"] = session.outcome
    identity = ProofedIdentity.objects.filter(session=session).first()
    if identity:
        body["proofedIdentityId"] = identity.id
    return body


def aal2_challenge_create(*, identity: ProofedIdentity, redirect_url: str) -> Aal2Challenge:
    ttl = conf("SANDBOX_AAL2_CHALLENGE_TTL_SECONDS")
    with transaction.atomic():
        return Aal2Challenge.objects.create(
            identity=identity, redirect_url=redirect_url, expires_at=timezone.now() + timedelta(seconds=ttl)
        )


MAX_AAL2_FAILURES = 5


def aal2_challenge_verify(*, challenge_id: str, code: str) -> tuple[Aal2Challenge, Aal2Session | None]:
    """Check a TOTP code; success opens an AAL2 session, five failures close the challenge."""
    from sandbox import totp

    with transaction.atomic():
        challenge = Aal2Challenge.objects.select_for_update().select_related("identity").get(pk=challenge_id)
        if challenge.status != "pending" or challenge.expires_at <= timezone.now():
            return challenge, None
        if not totp.verify(challenge.identity.totp_secret, code):
            challenge.failed_attempts += 1
            if challenge.failed_attempts >= MAX_AAL2_FAILURES:
                challenge.status = "failed"
            challenge.save(update_fields=["failed_attempts", "status"])
            return challenge, None
        challenge.status = "verified"
        challenge.save(update_fields=["status"])
        session = Aal2Session.objects.create(
            identity=challenge.identity,
            challenge=challenge,
            expires_at=timezone.now() + timedelta(seconds=conf("SANDBOX_AAL2_TTL_SECONDS")),
        )
    return challenge, session


def aal2_check(*, patient: Patient, proofed_identity_id: str, aal2_session_id: str) -> None:
    """Refuse an IAS query whose identity or AAL2 session is missing, stale or someone else's."""
    if not proofed_identity_id:
        raise Problem(400, "proofedIdentityId is required when purposeOfUse is ias", field="proofedIdentityId")
    identity = ProofedIdentity.objects.filter(pk=proofed_identity_id).first()
    if identity is None:
        raise Problem(400, "proofedIdentityId is not a known proofed identity", field="proofedIdentityId")
    if identity.patient_id != patient.id:
        raise Problem(403, "proofedIdentityId belongs to another patient", field="proofedIdentityId")
    if not identity.active:
        raise Problem(403, "proofedIdentityId is not active", field="proofedIdentityId")
    if not aal2_session_id:
        raise Problem(401, "The x-aal2-session header is required when purposeOfUse is ias", field="x-aal2-session")
    session = Aal2Session.objects.filter(pk=aal2_session_id).first()
    if session is None:
        raise Problem(401, "x-aal2-session is not a known AAL2 session", field="x-aal2-session")
    if session.identity_id != identity.id:
        raise Problem(403, "x-aal2-session belongs to another identity", field="x-aal2-session")
    if session.expires_at <= timezone.now():
        raise Problem(401, "x-aal2-session has expired; complete a new AAL2 challenge", field="x-aal2-session")


# ---- network query -------------------------------------------------------------------------------


def network_query_start(
    *,
    patient: Patient,
    purpose: str,
    sources: list[str],
    proofed_identity_id: str,
    aal2_session_id: str,
    metadata: dict,
    origin: str,
) -> NetworkQuery:
    if purpose == "ias":
        aal2_check(patient=patient, proofed_identity_id=proofed_identity_id, aal2_session_id=aal2_session_id)
    allowed = sconf.account_sources()
    now = timezone.now()
    errors = [
        {
            "source": s,
            "httpStatus": 403,
            "message": f"The {s} source is not enabled for this account",
            "timestamp": iso(now),
        }
        for s in sources
        if s not in allowed
    ]
    with transaction.atomic():
        query = NetworkQuery.objects.create(
            patient=patient,
            purpose_of_use=purpose,
            proofed_identity_id=proofed_identity_id or "",
            aal2_session_id=aal2_session_id or "",
            metadata=metadata,
            errors=errors,
            origin=origin,
            started_at=now,
        )

        for order, source in enumerate(s for s in sources if s in allowed):
            row = NetworkQuerySource.objects.create(query=query, type=source, started_at=now, order=order)
            delay = sconf.source_delay(source)
            if source == "hie":
                _later(tasks.network_query_first_data, row.pk, delay / 2)
            _later(tasks.network_query_source_complete, row.pk, delay)
    return query


def _later(task, arg, countdown: float) -> None:
    def send() -> None:
        try:
            options = {"queue": conf("SANDBOX_TASK_QUEUE")} if conf("SANDBOX_TASK_QUEUE") else {}
            task.apply_async(args=[arg], countdown=max(0.0, countdown), **options)
        except Exception:  # the broker is down: the sweeper picks the row up again
            logger.warning("sandbox: could not enqueue %s for %s", task.name, arg)

    transaction.on_commit(send)


def network_query_status(sources: list[NetworkQuerySource]) -> str:
    statuses = [s.status for s in sources]
    if not statuses:
        return "failed"
    if "processing" in statuses:
        return "processing"
    if all(s == "completed" for s in statuses):
        return "completed"
    if all(s == "failed" for s in statuses):
        return "failed"
    return "partial"


def network_query_json(query: NetworkQuery) -> dict:
    sources = list(query.sources.all())
    body: dict[str, Any] = {
        "requestId": str(query.request_id),
        "startedAt": iso(query.started_at),
        "status": network_query_status(sources),
        "sources": [],
        "errors": list(query.errors),
    }
    for s in sources:
        item = {"type": s.type, "status": s.status, "startedAt": iso(s.started_at)}
        if s.completed_at:
            item["completedAt"] = iso(s.completed_at)
        body["sources"].append(item)
    return body


def _bundle_link(query: NetworkQuery, *, sources: list[str], event: str, partial: list[str] | None = None) -> str:
    """The presigned bundle link a webhook carries; `e` names the webhook, for the `fail_event` fault.

    The bundle is stored once the transaction commits and before its webhook is sent (that is
    scheduled after this), as the network writes the file before it notifies; a link born expired
    (the `expired_link` fault) is never downloaded, so nothing is built for it."""
    ttl = link_ttl(patient_id=query.patient_id, default=conf("SANDBOX_LINK_TTL_SECONDS"))
    payload = {"k": "b", "p": query.patient_id, "s": sorted(sources), "f": "json", "e": event}
    if partial:
        payload["h"] = partial
    if ttl > 0:
        patient = query.patient
        transaction.on_commit(
            lambda: files.bundle_file_store(patient=patient, sources=sources, partial=partial), robust=True
        )
    return links.link_make(origin=query.origin, payload=payload, ttl_seconds=ttl)


def _query_webhook(query: NetworkQuery, *, event: str, source: dict, url: str, countdown: float) -> None:
    payload: dict[str, Any] = {"patientId": query.patient_id}
    if query.patient.external_id:
        payload["externalId"] = query.patient.external_id
    payload["consolidatedDataUrl"] = url
    payload["source"] = source
    if query.purpose_of_use == "ias":
        payload["purposeOfUse"] = "ias"
    webhook_enqueue(
        type=event,
        patient=query.patient,
        request_id=str(query.request_id),
        body={"payload": payload},
        data=query.metadata or None,
        countdown=countdown,
    )


def _order_delay(specs: list[FaultSpec], still_processing: int) -> float:
    spec = fault(specs, "out_of_order")
    return spec.seconds * still_processing if spec else 0.0


def network_query_first_data(*, source_id: int) -> None:
    """HIE has some data while it keeps running: send `network-query.hie.first-data-ready`."""
    with transaction.atomic():
        row = (
            NetworkQuerySource.objects.select_for_update().select_related("query__patient").filter(pk=source_id).first()
        )
        if row is None or row.status != "processing" or row.first_data_ready_at is not None:
            return
        query = row.query
        specs = faults_active(patient_id=query.patient_id)
        if query.patient.persona == "norecords" or fault(specs, "source_fail", row.type):
            return
        row.first_data_ready_at = timezone.now()
        row.save(update_fields=["first_data_ready_at"])
        done = list(query.sources.filter(status="completed").values_list("type", flat=True))
        url = _bundle_link(query, sources=done, partial=[row.type], event=f"network-query.{row.type}.first-data-ready")
        still = query.sources.filter(status="processing").count()
        _query_webhook(
            query,
            event=f"network-query.{row.type}.first-data-ready",
            source={
                "type": row.type,
                "status": "processing",
                "firstDataReadyAt": iso(row.first_data_ready_at),
            },
            url=url,
            countdown=_order_delay(specs, still),
        )


def network_query_source_complete(*, source_id: int) -> None:
    """A source finished: mark it completed or failed and send its `network-query.<source>` webhook."""
    with transaction.atomic():
        row = (
            NetworkQuerySource.objects.select_for_update().select_related("query__patient").filter(pk=source_id).first()
        )
        if row is None or row.status != "processing":
            return
        query = row.query
        specs = faults_active(patient_id=query.patient_id)
        failed = (query.patient.persona == "pharmacyfail" and row.type == "pharmacy") or bool(
            fault(specs, "source_fail", row.type)
        )
        row.status = "failed" if failed else "completed"
        row.completed_at = timezone.now()
        row.save(update_fields=["status", "completed_at"])
        done = list(query.sources.filter(status="completed").values_list("type", flat=True))
        still = query.sources.filter(status="processing").count()
        url = _bundle_link(query, sources=done, event=f"network-query.{row.type}")
        _query_webhook(
            query,
            event=f"network-query.{row.type}",
            source={"type": row.type, "status": row.status, "completedAt": iso(row.completed_at)},
            url=url,
            countdown=_order_delay(specs, still),
        )


# ---- consolidated data ---------------------------------------------------------------------------


def consolidated_query_start(
    *,
    patient: Patient,
    conversion_type: str,
    resources: list[str],
    date_from: str,
    date_to: str,
    metadata: dict,
    origin: str,
) -> ConsolidatedQuery:
    """Start a consolidated query, or return the identical one that is still running."""

    with transaction.atomic():
        running = (
            ConsolidatedQuery.objects.select_for_update()
            .filter(
                patient=patient,
                status="processing",
                conversion_type=conversion_type,
                resources=resources,
                date_from=date_from,
                date_to=date_to,
            )
            .first()
        )
        if running is not None:
            return running
        query = ConsolidatedQuery.objects.create(
            patient=patient,
            conversion_type=conversion_type,
            resources=resources,
            date_from=date_from,
            date_to=date_to,
            metadata=metadata,
            origin=origin,
        )
        _later(
            tasks.consolidated_query_complete,
            str(query.request_id),
            float(conf("SANDBOX_CONSOLIDATED_DELAY_SECONDS")),
        )
    return query


def consolidated_query_json(query: ConsolidatedQuery) -> dict:
    body: dict[str, Any] = {
        "requestId": str(query.request_id),
        "status": query.status,
        "startedAt": iso(query.started_at),
    }
    if query.date_from:
        body["dateFrom"] = query.date_from
    if query.date_to:
        body["dateTo"] = query.date_to
    if query.resources:
        body["resources"] = list(query.resources)
    body["conversionType"] = query.conversion_type
    if query.completed_at:
        body["completedAt"] = iso(query.completed_at)
    return body


_CONTENT_TYPES = {"json": "application/json", "html": "text/html", "pdf": "application/pdf"}


def consolidated_query_complete(*, request_id: str) -> None:
    """Build the result links and send `medical.consolidated-data`."""
    with transaction.atomic():
        query = ConsolidatedQuery.objects.select_for_update().select_related("patient").filter(pk=request_id).first()
        if query is None or query.status != "processing":
            return
        patient = query.patient
        query.status = "completed"
        query.completed_at = timezone.now()
        query.save(update_fields=["status", "completed_at"])
        bundle = records.bundle_filtered(
            records.patient_bundle(patient),
            resources=query.resources,
            date_from=query.date_from,
            date_to=query.date_to,
        )
        filters = {"conversionType": query.conversion_type}
        if query.resources:
            filters["resources"] = ",".join(query.resources)
        if query.date_from:
            filters["dateFrom"] = query.date_from
        if query.date_to:
            filters["dateTo"] = query.date_to
        result = {"resourceType": "Bundle", "type": "collection", "total": 0, "entry": []}
        if records.has_clinical_data(bundle):
            ttl = link_ttl(patient_id=patient.id, default=conf("SANDBOX_LINK_TTL_SECONDS"))
            base = {
                "k": "c",
                "p": patient.id,
                "r": query.resources,
                "df": query.date_from,
                "dt": query.date_to,
                "e": "medical.consolidated-data",
            }
            content = [
                {
                    "attachment": {
                        "contentType": _CONTENT_TYPES[query.conversion_type],
                        "url": links.link_make(
                            origin=query.origin, payload={**base, "f": query.conversion_type}, ttl_seconds=ttl
                        ),
                        "title": f"{patient.id}_consolidated.{query.conversion_type}",
                    }
                }
            ]
            if query.conversion_type == "json":
                content.append(
                    {
                        "attachment": {
                            "contentType": "application/gzip",
                            "url": links.link_make(origin=query.origin, payload={**base, "f": "gz"}, ttl_seconds=ttl),
                            "title": f"{patient.id}_consolidated.json.gz",
                        }
                    }
                )
            doc = {
                "resourceType": "DocumentReference",
                "id": str(uuid.uuid4()),
                "status": "current",
                "subject": {"reference": f"Patient/{patient.id}"},
                "date": iso(query.completed_at),
                "description": "Consolidated medical record",
                "content": content,
            }
            result = {
                "resourceType": "Bundle",
                "type": "collection",
                "total": 1,
                "entry": [{"fullUrl": f"urn:uuid:{doc['id']}", "resource": doc}],
            }
        item: dict[str, Any] = {"patientId": patient.id}
        if patient.external_id:
            item["externalId"] = patient.external_id
        item.update({"status": "completed", "filters": filters, "bundle": result})
        webhook_enqueue(
            type="medical.consolidated-data",
            patient=patient,
            request_id=str(query.request_id),
            body={"patients": [item]},
            data=query.metadata or None,
        )


# ---- documents -----------------------------------------------------------------------------------


def document_list(*, patient: Patient) -> list[dict]:
    return records.documents(records.patient_bundle(patient), patient.id)


def document_url(*, patient: Patient, doc_id: str, conversion: str, origin: str) -> str:
    ttl = link_ttl(patient_id=patient.id, default=conf("SANDBOX_DOCUMENT_LINK_TTL_SECONDS"))
    return links.link_make(
        origin=origin, payload={"k": "d", "p": patient.id, "d": doc_id, "c": conversion}, ttl_seconds=ttl
    )


def document_job_start(*, patient: Patient, kind: str, metadata: dict, origin: str) -> DocumentJob:

    with transaction.atomic():
        job = DocumentJob.objects.create(patient=patient, kind=kind, metadata=metadata, origin=origin)
        _later(
            tasks.document_job_complete,
            str(job.request_id),
            float(conf("SANDBOX_CONSOLIDATED_DELAY_SECONDS")),
        )
    return job


def document_job_complete(*, request_id: str) -> None:
    with transaction.atomic():
        job = DocumentJob.objects.select_for_update().select_related("patient").filter(pk=request_id).first()
        if job is None or job.status != "processing":
            return
        patient = job.patient
        job.status = "completed"
        job.completed_at = timezone.now()
        job.save(update_fields=["status", "completed_at"])
        docs = document_list(patient=patient)
        base = {"patientId": patient.id}
        if patient.external_id:
            base["externalId"] = patient.external_id
        data = job.metadata or None
        if job.kind == "bulk-urls":
            with_urls = [
                {**d, "url": document_url(patient=patient, doc_id=d["id"], conversion="", origin=job.origin)}
                for d in docs
            ]
            webhook_enqueue(
                type="medical.document-bulk-download-urls",
                patient=patient,
                request_id=str(job.request_id),
                data=data,
                body={"patients": [{**base, "status": "completed", "documents": with_urls}]},
            )
        else:
            webhook_enqueue(
                type="medical.document-download",
                patient=patient,
                request_id=str(job.request_id),
                data=data,
                body={"patients": [{**base, "type": "document-download", "status": "completed", "documents": docs}]},
            )
            webhook_enqueue(
                type="medical.document-conversion",
                patient=patient,
                request_id=str(job.request_id),
                data=data,
                body={"patients": [{**base, "type": "document-conversion", "status": "completed"}]},
            )


# ---- webhooks ------------------------------------------------------------------------------------


def webhook_enqueue(
    *,
    type: str,
    body: dict,
    patient: Patient | None = None,
    request_id: str = "",
    data: dict | None = None,
    countdown: float = 0.0,
) -> WebhookDelivery:
    """Store a webhook message and schedule its delivery after commit (faults may drop or delay it)."""

    message_id = uuid.uuid4()
    meta: dict = {"messageId": str(message_id)}
    if request_id:
        meta["requestId"] = request_id
    meta["when"] = iso(timezone.now())
    meta["type"] = type
    if data:
        meta["data"] = data
    raw = json.dumps({"meta": meta, **body}, separators=(",", ":"))
    url, _key, enabled = webhook_target()
    specs = faults_active(patient_id=patient.id if patient else None)
    status = "dropped" if fault(specs, "drop", type) else "pending"
    delivery = WebhookDelivery.objects.create(
        message_id=message_id,
        type=type,
        request_id=request_id,
        patient=patient,
        url=url,
        body=raw,
        status=status,
    )
    if status == "pending":
        if not enabled:
            delivery.status = "failed"
            delivery.last_error = "webhook URL disabled: POST /settings with a URL that answers the ping"
            delivery.save(update_fields=["status", "last_error"])
            return delivery
        delay = fault(specs, "delay")
        _later(tasks.webhook_deliver, delivery.pk, countdown + (delay.seconds if delay else 0.0))
    return delivery


def _send(url: str, raw: bytes, headers: dict[str, str], timeout: float) -> httpx.Response:
    return httpx.post(url, content=raw, timeout=timeout, follow_redirects=False, headers=headers)


def _post(url: str, raw: bytes, key: str, timeout: float) -> httpx.Response:
    headers = {"content-type": "application/json", "user-agent": USER_AGENT, "x-metriport-signature": sign(raw, key)}
    return _send(url, raw, headers, timeout)


def cloudevent_post(url: str, raw: bytes, key: str, timeout: float) -> httpx.Response:
    """A Particle notification: CloudEvents media type, `X-Ph-Signature-256: t=<now>,<HMAC of t.body>`."""
    stamp = int(time.time())
    digest = hmac.new(key.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/cloudevents+json",
        "accept": "*/*",
        "user-agent": "Particle Health Notifications",
        "x-ph-signature-256": f"t={stamp},{digest}",
    }
    return _send(url, raw, headers, timeout)


def webhook_deliver(*, delivery_id: int, resend: bool = False) -> WebhookDelivery | None:
    """POST one stored message to the current webhook URL; failures are kept for the retry endpoint."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or (not resend and delivery.status != "pending"):
        return delivery
    if delivery.network == "particle":
        url, key, post = conf("SANDBOX_PARTICLE_WEBHOOK_URL"), conf("SANDBOX_PARTICLE_WEBHOOK_SECRET"), cloudevent_post
    else:
        url, key, _enabled = webhook_target()
        post = _post
    raw = delivery.body.encode()
    copies = 2 if fault(faults_active(patient_id=delivery.patient_id), "duplicate") else 1
    code, error = None, ""
    for _ in range(copies):
        try:
            response = post(url, raw, key, float(conf("SANDBOX_WEBHOOK_TIMEOUT_SECONDS")))
            code = response.status_code
            error = "" if 200 <= code < 300 else f"HTTP {code}"
        except httpx.HTTPError as exc:
            code, error = None, type(exc).__name__
    ok = not error
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        url=url,
        attempts=delivery.attempts + copies,
        last_status_code=code,
        last_error=error[:300],
        status="delivered" if ok else "failed",
        delivered_at=timezone.now() if ok else None,
    )
    delivery.refresh_from_db()
    if not ok:
        logger.info("sandbox: webhook %s delivery failed (%s)", delivery.message_id, error)
    return delivery


def webhook_retry_failed() -> int:
    """Resend failed deliveries, oldest first, with the same messageId and body."""
    ids = list(
        WebhookDelivery.objects.filter(status="failed").order_by("created_at", "id").values_list("pk", flat=True)
    )
    for pk in ids:
        webhook_deliver(delivery_id=pk, resend=True)
    return len(ids)


def settings_update(*, webhook_url: str) -> AccountSettings:
    """Save the webhook URL and check it answers the ping; a wrong answer disables it."""
    row = account_settings()
    key = row.webhook_key or conf("SANDBOX_WEBHOOK_KEY")
    ping = secrets.token_hex(16)
    message_id = uuid.uuid4()
    raw = json.dumps(
        {"meta": {"messageId": str(message_id), "when": iso(timezone.now()), "type": "ping"}, "ping": ping},
        separators=(",", ":"),
    ).encode()
    enabled, detail, code = False, "", None
    started = time.monotonic()
    try:
        response = _post(webhook_url, raw, key, float(conf("SANDBOX_PING_TIMEOUT_SECONDS")))
        code = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if code != 200:
            detail = f"The ping was answered with HTTP {code}"
        elif not isinstance(answer, dict) or answer.get("pong") != ping:
            detail = "The ping was not answered with the same pong"
        else:
            enabled = True
    except httpx.HTTPError as exc:
        detail = f"The ping could not be delivered ({type(exc).__name__})"
    elapsed = time.monotonic() - started
    with transaction.atomic():
        row = AccountSettings.objects.select_for_update().get(pk=row.pk)
        row.webhook_url = webhook_url
        row.webhook_key = key
        row.webhook_enabled = enabled
        row.webhook_status_detail = detail
        row.save()
        WebhookDelivery.objects.create(
            message_id=message_id,
            type="ping",
            url=webhook_url,
            body=raw.decode(),
            status="delivered" if enabled else "failed",
            attempts=1,
            last_status_code=code,
            last_error=detail[:300],
            delivered_at=timezone.now() if enabled else None,
        )
    logger.info("sandbox: webhook ping %s in %.2fs", "ok" if enabled else "failed", elapsed)
    return row


def webhook_status_json() -> dict:
    _url, _key, enabled = webhook_target()
    row = AccountSettings.objects.order_by("pk").first()
    return {
        "webhookEnabled": enabled,
        "webhookStatusDetail": (row.webhook_status_detail if row else "") or None,
        "webhookRequestsProcessing": WebhookDelivery.objects.filter(status="pending").count(),
        "webhookRequestsFailed": WebhookDelivery.objects.filter(status="failed").count(),
    }


def sweep() -> int:
    """Re-enqueue what a broker outage may have lost: overdue sources, queries and deliveries; and delete
    stored bundles an hour past their links' lifetime (a later link to one builds it again)."""

    stale = timezone.now() - timedelta(seconds=60)
    count = 0
    for pk in NetworkQuerySource.objects.filter(status="processing", started_at__lt=stale).values_list("pk", flat=True):
        tasks.network_query_source_complete.delay(pk)
        count += 1
    for query_pk in ConsolidatedQuery.objects.filter(status="processing", started_at__lt=stale).values_list(
        "pk", flat=True
    ):
        tasks.consolidated_query_complete.delay(str(query_pk))
        count += 1
    for job_pk in DocumentJob.objects.filter(status="processing", started_at__lt=stale).values_list("pk", flat=True):
        tasks.document_job_complete.delay(str(job_pk))
        count += 1
    for pk in WebhookDelivery.objects.filter(status="pending", created_at__lt=stale).values_list("pk", flat=True):
        tasks.webhook_deliver.delay(pk)
        count += 1
    files.bundle_files_sweep(older_than_seconds=float(conf("SANDBOX_LINK_TTL_SECONDS")) + 3600)
    return count
