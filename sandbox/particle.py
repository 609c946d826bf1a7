"""What the sandbox's Particle does: tokens, patients, queries on a clock, results, CloudEvents.

Shapes follow Particle's published documentation and its SDK (ParticleHealth/particle-connect).
Where the real sandbox differs on purpose, this one serves what Homeport needs locally: the
FHIR bundle (Particle's own sandbox answers it only in production) and per-person records.

The same person registered at both local networks gets overlapping records: the record is
generated from the Metriport-side sandbox patient with the same name and date of birth (its
"twin") when there is one, and Particle's copy holds the HIE and lab items of it under
Particle's own ids (64 hex digits), so the portal sees the same items twice with different ids.
That twin's faults apply here too; faults without a patient apply to everyone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from sandbox import records, tasks
from sandbox import services as network
from sandbox.conf import FaultSpec, conf
from sandbox.generator import bundle_for_sources, ccda_document, document_body, persona_for
from sandbox.models import ParticlePatient, ParticleQuery, Patient, WebhookDelivery

logger = logging.getLogger(__name__)

PURPOSES = ("TREATMENT", "PAYMENT", "OPERATIONS")
SPECIALTIES = (
    "ONCOLOGY",
    "ORTHOPEDICS",
    "CARDIOLOGY",
    "ENDOCRINOLOGY",
    "NEPHROLOGY",
    "PULMONOLOGY",
    "GASTROENTEROLOGY",
)
QUERY_SOURCES = ("hie", "lab")
EVENT_SOURCE = "api/notifications"
REQUIRED = (
    "given_name",
    "family_name",
    "date_of_birth",
    "gender",
    "postal_code",
    "address_city",
    "address_state",
    "patient_id",
)


class ParticleProblem(Exception):
    """An error answer: `status` and a JSON body with `error` and `message`."""

    def __init__(self, status: int, message: str, *, error: str = "", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error or {400: "bad_request", 401: "unauthorized", 404: "not_found", 422: "validation"}.get(
            status, "error"
        )
        self.headers = headers or {}


# ---- tokens --------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_key() -> bytes:
    return hashlib.sha256(b"sandbox-particle-jwt:" + str(conf("SANDBOX_PARTICLE_CLIENT_SECRET")).encode()).digest()


def token_issue(*, client_id: str, client_secret: str, scope: str) -> tuple[str, int]:
    """A signed HS256 JWT for the configured client; (token, lifetime in seconds)."""
    id_ok = hmac.compare_digest(client_id.encode(), str(conf("SANDBOX_PARTICLE_CLIENT_ID")).encode())
    secret_ok = hmac.compare_digest(client_secret.encode(), str(conf("SANDBOX_PARTICLE_CLIENT_SECRET")).encode())
    if not (client_id and client_secret and id_ok and secret_ok):
        raise ParticleProblem(401, "invalid client-id or client-secret")
    if scope and not scope.startswith("projects/"):
        raise ParticleProblem(403, "scope must be projects/<project id>", error="forbidden")
    ttl = int(conf("SANDBOX_PARTICLE_TOKEN_TTL_SECONDS"))
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"iss": "sandbox-particle", "sub": client_id, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    if scope:
        claims["scope"] = scope
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = b64(hmac.new(token_key(), f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}", ttl


def token_check(authorization: str) -> None:
    """Accept `Bearer <token>` with a good signature, not expired, and not refused by a fault."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ParticleProblem(401, "missing bearer token")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise ParticleProblem(401, "malformed token")
    expected = b64(hmac.new(token_key(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), parts[2].encode()):
        raise ParticleProblem(401, "invalid token")
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    now = time.time()
    if claims["exp"] <= now:
        raise ParticleProblem(401, "token expired")
    spec = network.fault(network.faults_active(patient_id=None), "expired_token")
    if spec is not None and claims["iat"] + spec.seconds <= now:
        raise ParticleProblem(401, "token expired")


# ---- patients ------------------------------------------------------------------------------------


def patient_validate(body: Any) -> dict[str, Any]:
    """Particle's registration rules: required fields (400), then formats (422)."""
    if not isinstance(body, dict):
        raise ParticleProblem(400, "body must be a JSON object")
    missing = [name for name in REQUIRED if not isinstance(body.get(name), str) or not body[name].strip()]
    if missing:
        raise ParticleProblem(400, f"missing required field: {missing[0]}")
    data = {name: body[name].strip() for name in REQUIRED}
    gender = data["gender"].upper()
    if gender not in ("MALE", "FEMALE"):
        raise ParticleProblem(422, "gender must be MALE or FEMALE")
    data["gender"] = gender
    state = data["address_state"].upper()
    if len(state) != 2 or state not in network_states():
        raise ParticleProblem(422, "address_state must be a two-letter state abbreviation")
    data["address_state"] = state
    postal = data["postal_code"]
    if not (len(postal) == 5 and postal.isdigit()) and not (
        len(postal) == 10 and postal[5] == "-" and (postal[:5] + postal[6:]).isdigit()
    ):
        raise ParticleProblem(422, "postal_code must be a 5 or 9 digit ZIP code")
    try:
        datetime.strptime(data["date_of_birth"], "%Y-%m-%d")
    except ValueError:
        raise ParticleProblem(422, "date_of_birth must be YYYY-MM-DD") from None
    lines = body.get("address_lines") or []
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise ParticleProblem(422, "address_lines must be a list of strings")
    data["address_lines"] = lines
    for name in ("telephone", "email", "ssn"):
        if isinstance(body.get(name), str) and body[name].strip():
            data[name] = body[name].strip()
    return data


def network_states() -> set[str]:
    from sandbox.validation import US_STATES

    return set(US_STATES) | {"PR", "GU", "VI", "AS", "MP"}


def patient_register(*, data: dict[str, Any]) -> ParticlePatient:
    """Create, or update the same person (same patient_id, name and birth date); else an overlay error."""
    persona = persona_for(first_name=data["given_name"], last_name=data["family_name"])
    size = int(conf("SANDBOX_LARGE_RECORD_SIZE") if persona == "large" else conf("SANDBOX_RECORD_SIZE"))
    with transaction.atomic():
        existing = ParticlePatient.objects.select_for_update().filter(external_id=data["patient_id"]).first()
        if existing is None:
            return ParticlePatient.objects.create(
                external_id=data["patient_id"], demographics=data, persona=persona, record_size=size
            )
        same = all(existing.demographics.get(k) == data[k] for k in ("given_name", "family_name", "date_of_birth"))
        if not same:
            raise ParticleProblem(400, "overlay detected: patient_id is registered with other demographics")
        existing.demographics = data
        existing.persona = persona
        existing.record_size = size
        existing.save()
        return existing


def patient_json(patient: ParticlePatient) -> dict[str, Any]:
    return {"particle_patient_id": patient.id, **patient.demographics}


def patient_delete(*, patient: ParticlePatient) -> None:
    with transaction.atomic():
        patient.delete()


def twin_of(patient: ParticlePatient) -> Patient | None:
    """The Metriport-side sandbox patient for the same person (name and date of birth), if any."""
    d = patient.demographics
    given, family = d.get("given_name", "").lower(), d.get("family_name", "").lower()
    for candidate in Patient.objects.filter(demographics__dob=d.get("date_of_birth")).order_by("date_created"):
        first = str(candidate.demographics.get("firstName") or "").split(",")[0].strip().lower()
        last = str(candidate.demographics.get("lastName") or "").split(",")[0].strip().lower()
        if (first, last) == (given, family):
            return candidate
    return None


def faults_for(patient: ParticlePatient | None) -> list[FaultSpec]:
    twin = twin_of(patient) if patient is not None else None
    return network.faults_active(patient_id=twin.id if twin else None)


# ---- queries -------------------------------------------------------------------------------------


def query_submit(*, patient: ParticlePatient, body: Any) -> ParticleQuery:
    if not isinstance(body, dict):
        raise ParticleProblem(400, "body must be a JSON object")
    purpose = body.get("purpose_of_use")
    if purpose not in PURPOSES:
        raise ParticleProblem(400, "purpose_of_use must be one of " + ", ".join(PURPOSES))
    specialties = body.get("specialties") or []
    if not isinstance(specialties, list) or any(item not in SPECIALTIES for item in specialties):
        raise ParticleProblem(400, "specialties must be a list of " + ", ".join(SPECIALTIES))
    hints = body.get("hints") or []
    if isinstance(hints, dict):
        hints = [str(value) for value in hints.values()]
    if not isinstance(hints, list):
        raise ParticleProblem(400, "hints must be an object or a list")
    specs = faults_for(patient)
    slow = network.fault(specs, "delay", "particle-query")
    duration = float(conf("SANDBOX_PARTICLE_QUERY_DELAY_SECONDS")) + (slow.seconds if slow else 0.0)
    hidden = float(conf("SANDBOX_PARTICLE_STATUS_404_SECONDS"))
    now = timezone.now()
    outcome, error = "COMPLETE", ""
    if network.fault(specs, "query_fail"):
        outcome, error = "FAILED", "The query could not be completed (injected fault)"
    elif patient.persona == "pharmacyfail":
        outcome = "PARTIAL"
    with transaction.atomic():
        query = ParticleQuery.objects.create(
            patient=patient,
            purpose_of_use=purpose,
            specialties=specialties,
            hints=[str(item) if not isinstance(item, dict) else item for item in hints],
            outcome=outcome,
            error_message=error,
            submitted_at=now,
            visible_at=now + timedelta(seconds=hidden),
            running_at=now + timedelta(seconds=min(hidden + duration / 3, duration)),
            finish_at=now + timedelta(seconds=duration),
        )
        later(tasks.particle_query_complete, str(query.id), duration)
    return query


def query_submit_json(query: ParticleQuery) -> dict[str, Any]:
    return {
        "external_patient_id": query.patient.external_id,
        "hints": query.hints,
        "particle_patient_id": query.patient_id,
        "purpose_of_use": query.purpose_of_use,
        "query_id": str(query.id),
        "specialties": query.specialties,
    }


def query_state(query: ParticleQuery) -> str | None:
    """The state the clock says; None while the status endpoint still answers 404."""
    now = timezone.now()
    if now < query.visible_at:
        return None
    if now < query.running_at:
        return "PENDING"
    if now < query.finish_at and query.notified_at is None:
        return "PROCESSING"
    return query.outcome


def query_status_json(query: ParticleQuery) -> dict[str, Any] | None:
    state = query_state(query)
    if state is None:
        return None
    done = state in ("COMPLETE", "PARTIAL")
    return {
        "query_id": str(query.id),
        "particle_patient_id": query.patient_id,
        "state": state,
        "files_available": query.files if done else 0,
        "files_downloaded": 0,
        "error_message": query.error_message or None,
    }


def later(task, arg: str | int, countdown: float) -> None:
    def send() -> None:
        try:
            options = {"queue": conf("SANDBOX_TASK_QUEUE")} if conf("SANDBOX_TASK_QUEUE") else {}
            task.apply_async(args=[arg], countdown=max(0.0, countdown), **options)
        except Exception:  # the broker is down: the sweeper picks the row up again
            logger.warning("sandbox: could not enqueue %s for %s", task.name, arg)

    transaction.on_commit(send)


def query_complete(*, query_id: str) -> None:
    """The query has finished: send its CloudEvent once (a second run does nothing)."""
    with transaction.atomic():
        query = ParticleQuery.objects.select_for_update().select_related("patient").filter(pk=query_id).first()
        if query is None or query.notified_at is not None:
            return
        query.notified_at = timezone.now()
        if query.outcome != "FAILED":
            query.files = len(ccda_documents(query.patient)) + (0 if query.patient.persona == "norecords" else 1)
        query.save(update_fields=["notified_at", "files"])
        event_enqueue(query=query)


def event_body(query: ParticleQuery, *, event_id: str, version: str) -> dict[str, Any]:
    """A query notification as Particle sends it (v2 shape; v1 has no particle/external ids)."""
    if query.outcome == "PARTIAL":
        subject = "FHIR_R4 Query Complete with Errors. CCDA documents available"
    elif query.outcome == "FAILED":
        subject = "FHIR_R4 Query Failed"
    else:
        subject = "FHIR_R4 Query Complete"
    data: dict[str, Any] = {
        "file_count": str(query.files),
        "patient_id": query.patient_id,
        "person_id": query.patient_id,
        "purpose": query.purpose_of_use,
        "query_id": str(query.id),
        "status": "FAILED" if query.outcome == "FAILED" else "COMPLETE",
    }
    if version == "v2":
        data["particle_patient_id"] = query.patient_id
        data["external_patient_id"] = query.patient.external_id
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": EVENT_SOURCE,
        "type": f"com.particlehealth.api.{version}.query",
        "subject": subject,
        "datacontenttype": "application/json",
        "time": network.iso(timezone.now()),
        "data": data,
    }


def event_enqueue(*, query: ParticleQuery) -> WebhookDelivery:
    """Store the CloudEvent as a delivery row and deliver it after commit (faults may drop or delay it)."""
    event_id = uuid.uuid4()
    version = str(conf("SANDBOX_PARTICLE_EVENT_VERSION"))
    body = event_body(query, event_id=str(event_id), version=version)
    twin = twin_of(query.patient)
    specs = network.faults_active(patient_id=twin.id if twin else None)
    dropped = network.fault(specs, "drop", body["type"]) is not None
    delivery = WebhookDelivery.objects.create(
        message_id=event_id,
        network="particle",
        patient=twin,
        type=body["type"],
        request_id=str(query.id),
        url=str(conf("SANDBOX_PARTICLE_WEBHOOK_URL")),
        body=json.dumps(body, separators=(",", ":")),
        status="dropped" if dropped else "pending",
    )
    if not dropped:
        delay = network.fault(specs, "delay")
        later(tasks.webhook_deliver, delivery.pk, delay.seconds if delay and delay.target != "particle-query" else 0.0)
    return delivery


def sweep() -> int:
    """Finish queries whose completion task was lost (a broker outage)."""
    stale = timezone.now() - timedelta(seconds=60)
    ids = list(ParticleQuery.objects.filter(notified_at__isnull=True, finish_at__lt=stale).values_list("pk", flat=True))
    for pk in ids:
        tasks.particle_query_complete.delay(str(pk))
    return len(ids)


# ---- results -------------------------------------------------------------------------------------


@dataclass
class RecordOwner:
    """What `records.patient_bundle` needs to generate a record for someone with no Metriport twin."""

    id: str
    persona: str
    record_size: int
    demographics: dict[str, Any] = field(default_factory=dict)


def particle_id(kind: str, local_id: str) -> str:
    """Particle's style of id: 64 hex digits (a SHA-256), stable for the same item."""
    return hashlib.sha256(f"particle:{kind}/{local_id}".encode()).hexdigest()


def reid(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item in ids:
                out[key] = ids[item]
            else:
                out[key] = reid(item, ids)
        return out
    if isinstance(value, list):
        return [reid(item, ids) for item in value]
    return value


def source_bundle(patient: ParticlePatient) -> dict[str, Any]:
    """The generated record this person's Particle copy is cut from."""
    twin = twin_of(patient)
    if twin is not None:
        return records.patient_bundle(twin)
    d = patient.demographics
    owner = RecordOwner(
        id=f"particle-{patient.id}",
        persona=patient.persona,
        record_size=patient.record_size,
        demographics={
            "firstName": d.get("given_name", ""),
            "lastName": d.get("family_name", ""),
            "dob": d.get("date_of_birth"),
            "genderAtBirth": "F" if d.get("gender") == "FEMALE" else "M",
            "address": [
                {
                    "addressLine1": (d.get("address_lines") or [""])[0],
                    "city": d.get("address_city", ""),
                    "state": d.get("address_state", ""),
                    "zip": d.get("postal_code", "")[:5],
                    "country": "USA",
                }
            ],
        },
    )
    return records.patient_bundle(owner)


def fhir_bundle(patient: ParticlePatient) -> dict[str, Any]:
    """The HIE and lab part of the person's record, with Particle's ids; documents come as C-CDA."""
    part = bundle_for_sources(source_bundle(patient), QUERY_SOURCES)
    entries = [e for e in part["entry"] if e["resource"].get("resourceType") != "DocumentReference"]
    ids: dict[str, str] = {}
    for entry in entries:
        res = entry["resource"]
        kind = res["resourceType"]
        new = patient.id if kind == "Patient" else particle_id(kind, res["id"])
        ids[f"{kind}/{res['id']}"] = f"{kind}/{new}"
    out = []
    for entry in entries:
        res = reid(entry["resource"], ids)
        kind = res["resourceType"]
        res["id"] = ids[f"{kind}/{entry['resource']['id']}"].split("/", 1)[1]
        out.append({"fullUrl": f"{kind}/{res['id']}", "resource": res})
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"particle-bundle:{patient.id}")),
        "type": "collection",
        "total": len(out),
        "entry": out,
    }


def ccda_documents(patient: ParticlePatient) -> list[tuple[str, bytes]]:
    """(file name, C-CDA XML) for each hospital document in the HIE part of the record."""
    if patient.persona == "norecords":
        return []
    part = bundle_for_sources(source_bundle(patient), ("hie",))
    out = []
    for entry in part["entry"]:
        res = entry["resource"]
        if res.get("resourceType") != "DocumentReference":
            continue
        if res["content"][0]["attachment"].get("contentType") == "application/pdf":
            continue
        out.append((f"{particle_id('DocumentReference', res['id'])}.xml", document_body(res)))
    if not out:
        d = patient.demographics
        summary = ccda_document(
            title="Continuity of Care Document",
            day=patient.created_at.date().isoformat(),
            patient=f"{d.get('given_name', '')} {d.get('family_name', '')}".strip(),
            author="Particle Health sandbox",
            custodian="Particle Health sandbox",
        )
        out.append((f"{particle_id('Composition', patient.id)}.xml", summary))
    return out


def ccda_zip(patient: ParticlePatient) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in ccda_documents(patient):
            archive.writestr(name, content)
    return buffer.getvalue()
