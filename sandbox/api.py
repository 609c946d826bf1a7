"""The Metriport-compatible JSON API under /sandbox/ (see network-api.md, sections 1-7).

CSRF-exempt because it is an API authenticated by `x-api-key`, like the real one.
"""

from __future__ import annotations

import hmac
import time
import uuid
from functools import wraps

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from sandbox import records, services
from sandbox import validation as v
from sandbox.conf import conf, rate_limits
from sandbox.models import (
    ConsolidatedQuery,
    DocumentJob,
    IdentitySession,
    NetworkQuery,
    Patient,
    ProofedIdentity,
)
from sandbox.problems import Problem, bad, not_found


def rate_limit(bucket: str) -> dict[str, str]:
    """A fixed one-minute window per bucket; over the limit answers 429 with RateLimit-* headers."""
    limit = int(rate_limits().get(bucket) or 0)
    if limit <= 0:
        return {}
    now = time.time()
    key = f"sandbox:ratelimit:{bucket}:{int(now // 60)}"
    cache.add(key, 0, 90)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 90)
        count = 1
    reset = str(max(1, 60 - int(now % 60)))
    headers = {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, limit - count)),
        "RateLimit-Reset": reset,
        "RateLimit-Policy": f"{limit};w=60",
    }
    if count > limit:
        raise Problem(
            429,
            f"Too many requests: the limit is {limit} per minute",
            headers={**headers, "Retry-After": reset},
        )
    return headers


def api(*methods: str, buckets: dict[str, str] | None = None):
    """Method check, API key, injected API faults, rate limits and RFC 7807 errors for one endpoint."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise Problem(405, f"{request.method} is not allowed here", headers={"Allow": ", ".join(methods)})
                given = request.headers.get("x-api-key", "")
                if not given or not hmac.compare_digest(given.encode(), str(conf("SANDBOX_API_KEY")).encode()):
                    raise Problem(401, "Missing or invalid x-api-key header", field="x-api-key")
                patient_id = kwargs.get("patient_id") or request.GET.get("patientId")
                specs = services.faults_active(patient_id=patient_id)
                slow = services.fault(specs, "api_slow")
                if slow:
                    time.sleep(min(max(slow.seconds, 0.0), 30.0))
                if services.fault(specs, "api_5xx"):
                    raise Problem(503, "The network is temporarily unavailable (injected fault)")
                headers = rate_limit(buckets[request.method]) if buckets and request.method in buckets else {}
                response = view(request, *args, **kwargs)
                for name, value in headers.items():
                    response[name] = value
                return response
            except Problem as problem:
                return problem.response()

        return wrapper

    return decorate


def origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def _patient(patient_id: str | None, field: str = "patientId") -> Patient:
    if not patient_id:
        raise bad(field, f"{field} is required")
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        raise not_found("Patient")
    return patient


def _facility(request: HttpRequest) -> str:
    facility = request.GET.get("facilityId", "").strip()
    if not facility:
        raise bad("facilityId", "facilityId is required")
    return facility


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise not_found(what) from None


# ---- 1. patients ---------------------------------------------------------------------------------


@api("POST", buckets={"POST": "patient"})
def patient_create(request: HttpRequest):
    facility = _facility(request)
    data = v.patient(v.json_body(request))
    patient = services.patient_create(facility_id=facility, data=data)
    return JsonResponse(services.patient_json(patient), status=201)


@api("GET", "PUT", "DELETE", buckets={"PUT": "patient"})
def patient_detail(request: HttpRequest, patient_id: str):
    patient = _patient(patient_id)
    if request.method == "GET":
        return JsonResponse(services.patient_json(patient))
    facility = _facility(request)
    if request.method == "DELETE":
        services.patient_delete(patient=patient)
        return HttpResponse(status=204)
    data = v.patient(v.json_body(request))
    patient = services.patient_update(patient=patient, facility_id=facility, data=data)
    return JsonResponse(services.patient_json(patient))


# ---- 2. identity and AAL2 ------------------------------------------------------------------------


@api("POST")
def identity_session_create(request: HttpRequest):
    body = v.json_body(request)
    patient = _patient(v.text(body, "patientId", max_len=64))
    redirect_url = v.url(body.get("redirectUrl"), "redirectUrl")
    session = services.identity_session_create(
        patient=patient, redirect_url=redirect_url, metadata=v.metadata(body.get("metadata"))
    )
    return JsonResponse(
        {
            "sessionId": session.id,
            "sessionUrl": request.build_absolute_uri(reverse("sandbox:identity", args=[session.id])),
            "expiresAt": services.iso(session.expires_at),
            "status": session.status,
        },
        status=201,
    )


@api("GET")
def identity_session_detail(request: HttpRequest, session_id: str):
    session = IdentitySession.objects.filter(pk=session_id).first()
    if session is None:
        raise not_found("Identity session")
    return JsonResponse(services.identity_session_json(services.identity_session_expire_if_stale(session)))


@api("POST")
def aal2_challenge_create(request):
    body = v.json_body(request)
    identity_id = v.text(body, "proofedIdentityId", max_len=64)
    redirect_url = v.url(body.get("redirectUrl"), "redirectUrl")
    identity = ProofedIdentity.objects.filter(pk=identity_id).first()
    if identity is None:
        raise not_found("Proofed identity")
    if not identity.active:
        raise Problem(400, "proofedIdentityId is not active", field="proofedIdentityId")
    challenge = services.aal2_challenge_create(identity=identity, redirect_url=redirect_url)
    return JsonResponse(
        {
            "challengeId": challenge.id,
            "challengeUrl": request.build_absolute_uri(reverse("sandbox:aal2", args=[challenge.id])),
            "expiresAt": services.iso(challenge.expires_at),
            "method": "totp",
        },
        status=201,
    )


# ---- 3. network query ----------------------------------------------------------------------------


@api("POST", buckets={"POST": "query"})
def network_query_start(request: HttpRequest):
    patient = _patient(request.GET.get("patientId"))
    purpose = request.GET.get("purposeOfUse") or "treatment"
    if purpose not in ("treatment", "ias"):
        raise bad("purposeOfUse", "purposeOfUse must be treatment or ias")
    body = v.json_body(request)
    sources = v.sources(body.get("sources"))
    identity_id = body.get("proofedIdentityId") or ""
    if not isinstance(identity_id, str):
        raise bad("proofedIdentityId", "proofedIdentityId must be a string")
    query = services.network_query_start(
        patient=patient,
        purpose=purpose,
        sources=sources,
        proofed_identity_id=identity_id,
        aal2_session_id=request.headers.get("x-aal2-session", "").strip(),
        metadata=v.metadata(body.get("metadata")),
        origin=origin(request),
    )
    return JsonResponse(services.network_query_json(query))


@api("GET")
def network_query_detail(request: HttpRequest, request_id: str):
    query = NetworkQuery.objects.filter(pk=_uuid(request_id, "Network query")).first()
    if query is None:
        raise not_found("Network query")
    return JsonResponse(services.network_query_json(query))


# ---- 4. consolidated data ------------------------------------------------------------------------


@api("GET", "POST", buckets={"POST": "consolidated"})
def consolidated_query(request: HttpRequest, patient_id: str):
    patient = _patient(patient_id)
    if request.method == "GET":
        queries = [services.consolidated_query_json(q) for q in patient.consolidated_queries.all()]
        return JsonResponse({"queries": queries or None})
    conversion = request.GET.get("conversionType", "")
    if not conversion:
        raise bad("conversionType", "conversionType is required")
    if conversion not in ("json", "html", "pdf"):
        raise bad("conversionType", "conversionType must be json, html or pdf")
    resources = [r.strip() for r in request.GET.get("resources", "").split(",") if r.strip()]
    for name in resources:
        if name not in records.RESOURCE_TYPES:
            raise bad("resources", f"resources holds an unsupported resource type: {name[:40]}")
    date_from = v.iso_date(request.GET["dateFrom"], "dateFrom") if request.GET.get("dateFrom") else ""
    date_to = v.iso_date(request.GET["dateTo"], "dateTo") if request.GET.get("dateTo") else ""
    if date_from and date_to and date_from > date_to:
        raise bad("dateFrom", "dateFrom must not be after dateTo")
    body = v.json_body(request, required=False)
    query = services.consolidated_query_start(
        patient=patient,
        conversion_type=conversion,
        resources=resources,
        date_from=date_from,
        date_to=date_to,
        metadata=v.metadata(body.get("metadata")),
        origin=origin(request),
    )
    return JsonResponse(services.consolidated_query_json(query))


@api("GET")
def consolidated_query_detail(request: HttpRequest, patient_id: str, request_id: str):
    patient = _patient(patient_id)
    query = ConsolidatedQuery.objects.filter(pk=_uuid(request_id, "Consolidated query"), patient=patient).first()
    if query is None:
        raise not_found("Consolidated query")
    return JsonResponse(services.consolidated_query_json(query))


# ---- 5. documents --------------------------------------------------------------------------------


@api("GET")
def document_list(request: HttpRequest):
    patient = _patient(request.GET.get("patientId"))
    return JsonResponse({"documents": services.document_list(patient=patient)})


def _split_file_name(file_name: str) -> tuple[str, str]:
    stem = file_name.rsplit(".", 1)[0]
    patient_id, _, doc_id = stem.partition("_")
    return patient_id, doc_id


@api("GET")
def document_download_url(request: HttpRequest):
    file_name = request.GET.get("fileName", "").strip()
    if not file_name:
        raise bad("fileName", "fileName is required")
    conversion = request.GET.get("conversionType", "")
    if conversion not in ("", "html", "pdf"):
        raise bad("conversionType", "conversionType must be html or pdf")
    patient_id, doc_id = _split_file_name(file_name)
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None or not any(d["id"] == doc_id for d in services.document_list(patient=patient)):
        raise not_found("Document")
    url = services.document_url(patient=patient, doc_id=doc_id, conversion=conversion, origin=origin(request))
    return JsonResponse({"url": url})


@api("POST", buckets={"POST": "query"})
def document_bulk_urls(request: HttpRequest):
    patient = _patient(request.GET.get("patientId"))
    body = v.json_body(request, required=False)
    job = services.document_job_start(
        patient=patient, kind="bulk-urls", metadata=v.metadata(body.get("metadata")), origin=origin(request)
    )
    return JsonResponse({"requestId": str(job.request_id), "status": job.status})


@api("GET", "POST", buckets={"POST": "query"})
def document_query(request: HttpRequest):
    patient = _patient(request.GET.get("patientId"))
    if request.method == "POST":
        body = v.json_body(request, required=False)
        job = services.document_job_start(
            patient=patient, kind="query", metadata=v.metadata(body.get("metadata")), origin=origin(request)
        )
    else:
        latest = DocumentJob.objects.filter(patient=patient, kind="query").first()
        if latest is None:
            raise not_found("Document query")
        job = latest
    docs = len(services.document_list(patient=patient)) if job.status == "completed" else 0
    return JsonResponse(
        {
            "requestId": str(job.request_id),
            "download": {"status": job.status, "total": docs, "successful": docs, "errors": 0},
            "convert": {"status": job.status, "total": docs, "successful": docs, "errors": 0},
        }
    )


# ---- 6. settings ---------------------------------------------------------------------------------


def _settings_json(row) -> dict:
    url, key, _enabled = services.webhook_target()
    return {"id": str(row.account_id), "webhookUrl": row.webhook_url or url, "webhookKey": key}


@api("GET", "POST")
def settings_view(request: HttpRequest):
    if request.method == "GET":
        return JsonResponse(_settings_json(services.account_settings()))
    body = v.json_body(request)
    webhook_url = v.url(body.get("webhookUrl"), "webhookUrl")
    row = services.settings_update(webhook_url=webhook_url)
    return JsonResponse(_settings_json(row))


@api("GET")
def settings_webhook(request: HttpRequest):
    return JsonResponse(services.webhook_status_json())


@api("POST")
def settings_webhook_retry(request: HttpRequest):
    count = services.webhook_retry_failed()
    return JsonResponse({"message": "Retried failed webhook requests", "retried": count})
