"""The Particle-compatible API under /sandbox/particle/ (network-api.md section 8).

`GET /auth` (and the management form, `POST /auth`) issues tokens; every other endpoint wants
`Authorization: Bearer <token>`. Errors answer JSON `{"error": ..., "message": ...}`. Faults
without a patient (and those of a person's Metriport-side twin) apply: api_slow, api_5xx,
expired_token, query_fail, delay (of webhooks, or of queries with target "particle-query"),
drop and duplicate.
"""

from __future__ import annotations

import json
import time
import uuid
from functools import wraps
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import particle
from sandbox import services as network
from sandbox.models import ParticlePatient, ParticleQuery
from sandbox.particle import ParticleProblem


def problem_response(problem: ParticleProblem) -> JsonResponse:
    response = JsonResponse({"error": problem.error, "message": problem.message}, status=problem.status)
    for name, value in problem.headers.items():
        response[name] = value
    return response


def injected_faults() -> None:
    specs = network.faults_active(patient_id=None)
    slow = network.fault(specs, "api_slow")
    if slow:
        time.sleep(min(max(slow.seconds, 0.0), 30.0))
    if network.fault(specs, "api_5xx"):
        raise ParticleProblem(503, "service unavailable (injected fault)", error="unavailable")


def endpoint(*methods: str, authenticated: bool = True):
    """Method check, injected faults, the bearer token, and JSON errors for one endpoint."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            try:
                if request.method not in methods:
                    raise ParticleProblem(405, f"{request.method} is not allowed here", error="method_not_allowed")
                injected_faults()
                if authenticated:
                    particle.token_check(request.headers.get("authorization", ""))
                return view(request, *args, **kwargs)
            except ParticleProblem as problem:
                return problem_response(problem)

        return wrapper

    return decorate


def json_body(request: HttpRequest) -> object:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        raise ParticleProblem(400, "body is not valid JSON") from None


def patient_or_404(particle_patient_id: str) -> ParticlePatient:
    patient = ParticlePatient.objects.filter(pk=particle_patient_id).first()
    if patient is None:
        raise ParticleProblem(404, "patient not found")
    return patient


@endpoint("GET", "POST", authenticated=False)
def auth(request: HttpRequest) -> HttpResponse:
    """GET: the Query API's plain-text JWT. POST: the management API's form-encoded answer."""
    token, ttl = particle.token_issue(
        client_id=request.headers.get("client-id", ""),
        client_secret=request.headers.get("client-secret", ""),
        scope=request.headers.get("scope", ""),
    )
    if request.method == "POST":
        return HttpResponse(
            urlencode({"access_token": token, "expires_in": ttl}), content_type="application/x-www-form-urlencoded"
        )
    return HttpResponse(token, content_type="text/plain")


@endpoint("POST")
def patients(request: HttpRequest) -> JsonResponse:
    patient = particle.patient_register(data=particle.patient_validate(json_body(request)))
    return JsonResponse(particle.patient_json(patient))


@endpoint("GET", "DELETE")
def patient_detail(request: HttpRequest, particle_patient_id: str) -> HttpResponse:
    patient = patient_or_404(particle_patient_id)
    if request.method == "DELETE":
        particle.patient_delete(patient=patient)
        return HttpResponse("delete successful", content_type="text/plain")
    return JsonResponse(particle.patient_json(patient))


@endpoint("DELETE")
def patient_delete_v1(request: HttpRequest, patient_id: str) -> HttpResponse:
    """The v1 form: the caller's own patient_id."""
    patient = ParticlePatient.objects.filter(external_id=patient_id).first()
    if patient is None:
        raise ParticleProblem(404, "patient not found")
    particle.patient_delete(patient=patient)
    return HttpResponse("delete successful", content_type="text/plain")


@endpoint("GET", "POST")
def query(request: HttpRequest, particle_patient_id: str) -> JsonResponse:
    patient = patient_or_404(particle_patient_id)
    if request.method == "POST":
        submitted = particle.query_submit(patient=patient, body=json_body(request))
        return JsonResponse(particle.query_submit_json(submitted))
    query_id = request.GET.get("query_id", "").strip()
    if query_id and not uuid_valid(query_id):
        raise ParticleProblem(404, "query not found")
    rows = ParticleQuery.objects.filter(patient=patient)
    if query_id:
        rows = rows.filter(pk=query_id)
    latest = rows.order_by("-submitted_at").first()
    status = particle.query_status_json(latest) if latest is not None else None
    if status is None:
        raise ParticleProblem(404, "query not found")
    return JsonResponse(status)


def uuid_valid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def finished_query(patient: ParticlePatient) -> ParticleQuery:
    for row in ParticleQuery.objects.filter(patient=patient).order_by("-submitted_at"):
        if particle.query_state(row) in ("COMPLETE", "PARTIAL"):
            return row
    raise ParticleProblem(404, "no completed query for this patient")


@endpoint("GET")
def fhir(request: HttpRequest, particle_patient_id: str) -> HttpResponse:
    patient = patient_or_404(particle_patient_id)
    finished_query(patient)
    body = json.dumps(particle.fhir_bundle(patient), separators=(",", ":"))
    return HttpResponse(body, content_type="application/json")


@endpoint("GET")
def ccda(request: HttpRequest, particle_patient_id: str) -> HttpResponse:
    patient = patient_or_404(particle_patient_id)
    finished_query(patient)
    response = HttpResponse(particle.ccda_zip(patient), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{patient.id}.zip"'
    return response
