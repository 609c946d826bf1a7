"""Metriport behind the network seam: `MetriportNetwork` implements `ias.network.Network`.

Each answer of `ias.metriport`'s client is decoded once, here, with msgspec, into the seam's
structs, so services never see Metriport's field names; an answer of the wrong shape raises
`NetworkTransientError` (the network's fault; a retry may fare better), never KeyError or TypeError.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ias import metriport
from ias.network import (
    QUERY_REF_KEY,
    Aal2Opened,
    IdentitySession,
    IdentityStatus,
    NetworkPermanentError,
    NetworkTransientError,
    PatientDetails,
    PatientRef,
    QueryRequest,
    QueryStatus,
    RecordsRequested,
    RecordsStatus,
    SourceChoice,
    SourceProgress,
    SourceRefusal,
    network_id,
    parse_when,
    plain_reason,
)


class _Wire(msgspec.Struct, rename="camel", kw_only=True):
    """Metriport's answers as sent: unknown fields ignored, every field optional (checked after)."""


class _Created(_Wire):
    id: str | int | None = None


class _Session(_Wire):
    session_id: str | int | None = None
    session_url: str = ""
    expires_at: str | None = None


class _SessionStatus(_Wire):
    status: str | None = None
    result: str | None = None
    proofed_identity_id: str | int | None = None
    reason: str | None = None
    failure_reason: str | None = None
    message: str | None = None


class _Challenge(_Wire):
    challenge_id: str | int | None = None
    challenge_url: str = ""
    method: str | None = None
    expires_at: str | None = None


class _Source(_Wire):
    type: str | None = None
    status: str | None = None
    started_at: str | None = None
    completed_at: str | None = None


class _SourceError(_Wire):
    source: str | None = None
    http_status: Any = None
    message: str | None = None


class _Query(_Wire):
    request_id: str | None = None
    started_at: str | None = None
    status: str | None = None
    sources: list[Any] | None = None
    errors: list[Any] | None = None


class _DownloadUrl(_Wire):
    url: str = ""


def _decode(answer: Any, wire: type[msgspec.Struct], label: str) -> Any:
    """One answer into its wire struct; an answer of the wrong shape is the network's fault, so transient."""
    try:
        return msgspec.convert(answer, wire, strict=False)
    except msgspec.ValidationError as exc:
        raise NetworkTransientError(f"{label}: answer of an unexpected shape ({exc.__class__.__name__})") from None


def _web_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def _first_reason(*values: str | None) -> str:
    for value in values:
        reason = plain_reason(value)
        if reason:
            return reason
    return ""


def patient_body(details: PatientDetails, external_id: str = "") -> dict[str, Any]:
    """Create/Update Patient's body, in Metriport's field names (also the shape the portal stores)."""
    address: dict[str, str] = {
        "addressLine1": details.address.line1,
        "city": details.address.city,
        "state": details.address.state,
        "zip": details.address.zip,
        "country": details.address.country,
    }
    if details.address.line2:
        address["addressLine2"] = details.address.line2.strip()
    body: dict[str, Any] = {
        "firstName": details.first_name,
        "lastName": details.last_name,
        "dob": details.dob,
        "genderAtBirth": details.gender_at_birth,
        "address": [address],
    }
    contact = {k: v for k, v in (("phone", details.phone), ("email", details.email)) if v}
    if contact:
        body["contact"] = [contact]
    if external_id:
        body["externalId"] = external_id
    return body


def query_status_decode(answer: Any, label: str = "network query") -> QueryStatus:
    """A Start/Get Network Query answer: the sources it lists and the ones refused in `errors`."""
    wire = _decode(answer, _Query, label)
    sources = []
    for item in wire.sources or []:
        source = _decode(item, _Source, label) if isinstance(item, dict) else None
        if source is None or source.status not in ("processing", "completed", "failed"):
            continue
        sources.append(
            SourceProgress(
                source_type=source.type or "",
                state=source.status,
                started_at=parse_when(source.started_at),
                completed_at=parse_when(source.completed_at),
            )
        )
    refusals = []
    for item in wire.errors or []:
        error = _decode(item, _SourceError, label) if isinstance(item, dict) else None
        if error is None:
            continue
        status = error.http_status if isinstance(error.http_status, int) else None
        refusals.append(SourceRefusal(source_type=error.source or "", http_status=status, message=error.message or ""))
    return QueryStatus(
        request_id=wire.request_id or "",
        started_at=parse_when(wire.started_at),
        sources=sources,
        refusals=refusals,
    )


class MetriportNetwork:
    """`ias.network.Network` over Metriport: it proves identity and AAL2 itself."""

    key = "metriport"
    label = "Metriport"
    offers_identity = True
    purpose_of_use = "ias"

    def patient_register(self, *, facility_id: str, details: PatientDetails, external_id: str) -> PatientRef:
        with metriport.client() as api:
            answer = api.patient_create(facility_id=facility_id, demographics=patient_body(details, external_id))
        patient_id = network_id(_decode(answer, _Created, "POST /medical/v1/patient").id)
        if not patient_id:
            raise NetworkTransientError("POST /medical/v1/patient: answer without a usable id")
        return PatientRef(patient_id=patient_id, facility_id=facility_id)

    def patient_update(self, *, patient: PatientRef, details: PatientDetails, external_id: str) -> None:
        with metriport.client() as api:
            api.patient_update(
                patient_id=patient.patient_id,
                facility_id=patient.facility_id,
                demographics=patient_body(details, external_id),
            )

    def patient_delete(self, *, patient: PatientRef) -> None:
        with metriport.client() as api:
            api.patient_delete(patient_id=patient.patient_id, facility_id=patient.facility_id)

    def identity_session_start(self, *, patient_id: str, return_url: str) -> IdentitySession:
        label = "POST /medical/v1/identity/session"
        with metriport.client() as api:
            answer = api.identity_session_create(patient_id=patient_id, redirect_url=return_url)
        wire = _decode(answer, _Session, label)
        session_id = network_id(wire.session_id)
        if not session_id or not _web_url(wire.session_url):
            raise NetworkTransientError(f"{label}: answer without a session")
        return IdentitySession(
            session_id=session_id, session_url=wire.session_url, expires_at=parse_when(wire.expires_at)
        )

    def identity_session_status(self, *, session_id: str) -> IdentityStatus:
        """Not in the published API: a refusal here (404/405) reads as "unknown"."""
        try:
            with metriport.client() as api:
                answer = api.identity_session_get(session_id=session_id)
        except NetworkPermanentError:
            return IdentityStatus(state="unknown")
        wire = _decode(answer, _SessionStatus, "GET /medical/v1/identity/session")
        proofed = network_id(wire.proofed_identity_id)
        if wire.status in ("completed", "verified") and proofed:
            return IdentityStatus(state="verified", proofed_identity_id=proofed)
        if wire.status == "expired":
            return IdentityStatus(state="expired")
        if wire.status in ("failed", "rejected") or wire.result == "failed":
            return IdentityStatus(state="failed", reason=_first_reason(wire.reason, wire.failure_reason, wire.message))
        return IdentityStatus(state="unknown")

    def aal2_challenge_start(self, *, proofed_identity_id: str, return_url: str) -> Aal2Opened:
        label = "POST /medical/v1/identity/aal2/challenge"
        with metriport.client() as api:
            answer = api.aal2_challenge_create(proofed_identity_id=proofed_identity_id, redirect_url=return_url)
        wire = _decode(answer, _Challenge, label)
        challenge_id = network_id(wire.challenge_id)
        if not _web_url(wire.challenge_url) or not challenge_id:
            raise NetworkTransientError(f"{label}: answer without a challenge")
        return Aal2Opened(
            challenge_id=challenge_id,
            challenge_url=wire.challenge_url,
            method=(wire.method or "")[:20],
            expires_at=parse_when(wire.expires_at),
        )

    def query_start(self, *, request: QueryRequest) -> QueryStatus:
        choice = SourceChoice(**{name: name in request.sources for name in ("hie", "pharmacy", "lab")})
        with metriport.client() as api:
            answer = api.network_query_start(
                patient_id=request.patient_id,
                proofed_identity_id=request.proofed_identity_id,
                aal2_session_id=request.aal2_session_id,
                sources=choice,
                metadata={QUERY_REF_KEY: request.query_ref},
            )
        return query_status_decode(answer, "POST /medical/v1/network/query")

    def query_status(self, *, request_id: str) -> QueryStatus:
        with metriport.client() as api:
            answer = api.network_query_get(request_id=request_id)
        return query_status_decode(answer, "GET /medical/v1/network/query")

    def records_request(self, *, patient_id: str, query_ref: str) -> RecordsRequested:
        with metriport.client() as api:
            answer = api.consolidated_query_start(
                patient_id=patient_id, conversion_type="json", metadata={QUERY_REF_KEY: query_ref}
            )
        wire = _decode(answer, _Query, "POST consolidated query")
        return RecordsRequested(request_id=wire.request_id or "", started_at=parse_when(wire.started_at))

    def records_status(self, *, patient_id: str, request_id: str) -> RecordsStatus:
        with metriport.client() as api:
            answer = api.consolidated_query_get(patient_id=patient_id, request_id=request_id)
        status = _decode(answer, _Query, "GET consolidated query").status
        return RecordsStatus(state=status if status in ("processing", "completed", "failed") else "unknown")

    def document_link(self, *, file_name: str, content_type: str = "") -> str:
        conversion = "pdf" if content_type == "application/pdf" else None
        with metriport.client() as api:
            return api.document_download_url(file_name=file_name, conversion_type=conversion)

    def events_resend(self) -> None:
        with metriport.client() as api:
            api.settings_webhook_retry()
